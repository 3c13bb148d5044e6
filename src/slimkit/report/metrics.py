"""Reading metrics.jsonl, the per-step and per-epoch log of a run."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

__all__ = ["read_metrics"]


def _recover(line: str) -> dict[str, Any] | None:
    """Parse a line, or the JSON object at its end when a killed write was appended to.

    A run killed mid-write leaves a partial line without a newline; when the run is
    resumed the next record lands on that same line, e.g. ``{"event": "st{"event": ...}``.
    The tail object is the real record; a tail only counts when it has an ``"event"``
    key, so a nested object inside a truncated line is never mistaken for a record.
    """
    try:
        obj = json.loads(line)
    except json.JSONDecodeError:
        obj = None
        start = line.find("{", 1)
        while start != -1:
            try:
                tail = json.loads(line[start:])
            except json.JSONDecodeError:
                tail = None
            if isinstance(tail, dict) and "event" in tail:
                obj = tail
                break
            start = line.find("{", start + 1)
    return obj if isinstance(obj, dict) else None


def read_metrics(path: str | Path) -> list[dict[str, Any]]:
    """Read metrics.jsonl into a list of dicts, in file order.

    Tolerant of what a killed or resumed run leaves behind: a truncated last line is
    skipped silently, a record appended to a truncated line is recovered, and any other
    unreadable line is skipped with a warning. A missing file reads as no metrics (a run
    without a train stage writes none). Duplicates from a resumed run are kept here;
    consumers let the later line win (see `slimkit.report.curves.build_curves`).

    Args:
        path: the metrics.jsonl file.

    Returns:
        One dict per readable line.

    Example:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "metrics.jsonl"
        >>> _ = p.write_text('{"event": "step", "loss": 1.5}\\n{"event": "ep')
        >>> read_metrics(p)
        [{'event': 'step', 'loss': 1.5}]
    """
    path = Path(path)
    if not path.is_file():
        return []
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    records: list[dict[str, Any]] = []
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line:
            continue
        record = _recover(line)
        if record is not None:
            records.append(record)
        elif number != len(lines):
            warnings.warn(
                f"{path}: skipped unreadable line {number}: {line[:60]!r}",
                RuntimeWarning,
                stacklevel=2,
            )
    return records
