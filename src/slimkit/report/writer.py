"""Write a run's report.json, plots and report.md; re-render them later."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path, PurePath
from typing import Any

from slimkit.fileio import atomic_write_text
from slimkit.report.markdown import render_markdown
from slimkit.report.metrics import read_metrics
from slimkit.report.plots import STANDARD_PLOTS, plot_training_curves
from slimkit.report.schema import ReportError, validate_report

__all__ = ["METRICS_FILE", "REPORT_JSON", "REPORT_MD", "rerender", "write_report"]

REPORT_JSON = "report.json"
REPORT_MD = "report.md"
METRICS_FILE = "metrics.jsonl"


def _jsonable(v: Any, where: str) -> Any:
    """A plain-JSON copy: paths to strings, numpy/torch scalars and arrays to Python,
    NaN and infinities to null (strict JSON has neither)."""
    if v is None or isinstance(v, str | bool | int):
        return v
    if isinstance(v, float):
        return v if math.isfinite(v) else None
    if isinstance(v, Mapping):
        return {str(k): _jsonable(x, f"{where}.{k}" if where else str(k)) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_jsonable(x, f"{where}[{i}]") for i, x in enumerate(v)]
    if isinstance(v, set | frozenset):
        return [_jsonable(x, f"{where}[]") for x in sorted(v, key=str)]
    if isinstance(v, PurePath):
        return str(v)
    if hasattr(v, "tolist"):  # numpy scalars/arrays, torch tensors
        return _jsonable(v.tolist(), where)
    raise ReportError(f"report.json: {where} holds a {type(v).__name__}, which JSON cannot store")


def write_report(run_dir: str | Path, report: dict[str, Any]) -> dict[str, Path]:
    """Validate a report and write report.json, the standard plots and report.md.

    Plots are drawn from ``run_dir/metrics.jsonl`` (none when it is absent). Their paths,
    relative to ``run_dir``, are put first in ``report["plots"]``, which is updated in
    place; plots that methods listed there already are kept, and a standard plot that
    could not be drawn this time is dropped (from the list and from disk). Both files are written atomically (a
    temporary file, then ``os.replace``), so a killed process never leaves half a report.
    Non-finite floats are stored as ``null``; paths and numpy/torch values as plain JSON.

    Args:
        run_dir: the run directory (created if needed).
        report: the report dict (see `REPORT_REQUIRED`).

    Returns:
        ``{"json": ..., "md": ..., "loss": ..., "accuracy": ...}``: every file written,
        plots keyed by file stem.

    Raises:
        ReportError: the report breaks the contract (nothing is written then).

    Example:
        >>> import tempfile
        >>> report = {
        ...     "slimkit_version": "0.1.0", "recipe": {"name": "demo"},
        ...     "dataset": {"name": "digits", "train_size": 1437, "test_size": 360},
        ...     "initial": {"params": 1000, "macs": 5000},
        ...     "final": {"params": 500, "macs": 2500, "top1": 0.9,
        ...               "metrics": {"top1": 0.9}, "headline": {"name": "top1", "value": 0.9},
        ...               "latency_ms": {"torch_bs1": 0.2}},
        ...     "stages": [{"kind": "train", "seconds": 1.5, "top1": 0.9}],
        ...     "artifacts": {"model": "model.pt", "onnx": None, "report_md": "report.md"}}
        >>> sorted(write_report(tempfile.mkdtemp(), report))
        ['json', 'md']
    """
    validate_report(report)
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    drawn = plot_training_curves(read_metrics(run_dir / METRICS_FILE), run_dir)
    fresh = [p.relative_to(run_dir).as_posix() for p in drawn]
    for name in STANDARD_PLOTS:
        if name not in fresh:
            (run_dir / name).unlink(missing_ok=True)  # stale from an earlier render
    kept = [p for p in report.get("plots") or [] if p not in STANDARD_PLOTS and p not in fresh]
    report["plots"] = fresh + kept
    text = json.dumps(_jsonable(report, ""), indent=2, ensure_ascii=False) + "\n"
    written = {"json": atomic_write_text(run_dir / REPORT_JSON, text)}
    written["md"] = atomic_write_text(run_dir / REPORT_MD, render_markdown(report))
    written.update({p.stem: p for p in drawn})
    return written


def rerender(run_dir: str | Path) -> dict[str, Path]:
    """Re-draw the plots and re-write report.md (and report.json) of a finished run.

    What ``slimkit report RUN_DIR`` does: reads ``run_dir/report.json`` and
    ``run_dir/metrics.jsonl``, then calls `write_report`.

    Args:
        run_dir: a run directory holding report.json.

    Returns:
        The files written, as `write_report` returns them.

    Raises:
        ValueError: one line when ``run_dir`` or its report.json is missing or unreadable
            (`ReportError` when report.json breaks the contract).

    Example:
        >>> import tempfile
        >>> try:
        ...     rerender(tempfile.mkdtemp())
        ... except ValueError as err:
        ...     print(str(err).split(":")[-1].strip())
        no report.json here; pass the directory of a finished `slimkit run`
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise ValueError(f"run directory {str(run_dir)!r} does not exist")
    path = run_dir / REPORT_JSON
    if not path.is_file():
        raise ValueError(
            f"{run_dir}: no report.json here; pass the directory of a finished `slimkit run`"
        )
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ReportError(
            f"{path}: not valid JSON ({err.msg} at line {err.lineno}, column {err.colno})"
        ) from None
    return write_report(run_dir, report)
