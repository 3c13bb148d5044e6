"""Compare runs side by side: one table (markdown and HTML) and a Pareto plot.

``slimkit compare RUN_DIR...`` reads each run's report.json with `rows_from_runs` and writes
``compare.md``, ``compare.html`` and ``pareto.png`` with `render_comparison`. The renderer
only needs `CompareRow` objects, so a benchmark script can build rows from its own JSON and
draw the same table and plot.

Example:
    >>> import tempfile
    >>> rows = [CompareRow("dense", "top1", 0.92, 270_000, 40_000_000,
    ...                    latency_ms={"ort_bs32": 20.0}),
    ...         CompareRow("pruned", "top1", 0.90, 90_000, 10_000_000,
    ...                    latency_ms={"ort_bs32": 8.0})]
    >>> paths = render_comparison(rows, tempfile.mkdtemp())
    >>> sorted(p.name for p in paths.values())
    ['compare.html', 'compare.md', 'pareto.png']
    >>> [ln for ln in paths["md"].read_text().splitlines() if ln.startswith("| pruned")]
    ['| pruned | 90.00 % | 0.09 M | 10 M | 8 ms | 4.00× | 2.50× | — | — |']
"""

from __future__ import annotations

import base64
import html
import json
import math
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from numbers import Real
from pathlib import Path
from typing import TYPE_CHECKING, Any

from slimkit.fileio import atomic_write_text
from slimkit.report.markdown import _FRACTIONS, _METRIC_LABELS, _cell, _fmt, _millions, _ms, _pct
from slimkit.report.plots import new_figure, save_figure

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = [
    "COMPARE_HTML",
    "COMPARE_MD",
    "PARETO_PNG",
    "CompareRow",
    "render_comparison",
    "row_from_report",
    "rows_from_runs",
]

COMPARE_MD = "compare.md"
COMPARE_HTML = "compare.html"
PARETO_PNG = "pareto.png"

_DASH = "—"
_REPORT_JSON = "report.json"  # as slimkit.report.writer.REPORT_JSON (not imported: no cycle risk)
_DENSE_LABEL = "dense"
_LOWER_IS_BETTER = frozenset({"mae", "rmse", "mse", "loss"})
_SPEEDUP_KEY = "ort_bs32"  # the speed-up column's latency when the baseline has it
_LATENCY_PANEL_KEYS = ("ort_bs32", "ort_bs1")  # the Pareto latency panel's preference
_BATCH_KEY = re.compile(r"(.+)_bs(\d+)")  # e.g. ort_bs32 -> ("ort", 32)
_LOG_SCALE_RATIO = 20.0  # a cost axis spanning more than this ratio is drawn log-scaled


@dataclass
class CompareRow:
    """One row of a comparison: a run, the dense model it started from, or a benchmark entry.

    Attributes:
        label: the row's name in the table and the plot (unique within a comparison).
        headline_name: the task's headline metric (e.g. ``"top1"``), or None when unknown.
        headline_value: its value, or None when unknown (e.g. the dense row of a run).
        params: parameter count, or None.
        macs: multiply-accumulates per image (FLOPs = 2 × MACs), or None.
        latency_ms: median milliseconds per call, keyed like ``report.json``
            (``torch_bs1``, ``ort_bs1``, ``ort_bs32``...).
        stage_seconds: ``(stage name, seconds)`` in run order.
        total_seconds: wall time of the whole run, or None.
        is_dense: the row is the uncompressed starting model.
        source: where the row came from (a run directory, a JSON file), or None.
        higher_is_better: whether a larger headline is better; None infers it from
            ``headline_name`` (``mae``, ``rmse``, ``mse`` and ``loss`` are lower-is-better).

    Example:
        >>> row = CompareRow("slim", "mae", 0.4, 1000, 5000)
        >>> row.better_is_higher
        False
    """

    label: str
    headline_name: str | None
    headline_value: float | None
    params: int | None
    macs: int | None
    latency_ms: dict[str, float] = field(default_factory=dict)
    stage_seconds: list[tuple[str, float]] = field(default_factory=list)
    total_seconds: float | None = None
    is_dense: bool = False
    source: Path | None = None
    higher_is_better: bool | None = None

    @property
    def better_is_higher(self) -> bool:
        """`higher_is_better`, or the default for `headline_name` when it is None."""
        if self.higher_is_better is not None:
            return self.higher_is_better
        return (self.headline_name or "") not in _LOWER_IS_BETTER


# --------------------------------------------------------------------------- reading runs


def _number(v: Any) -> float | None:
    if isinstance(v, Real) and not isinstance(v, bool) and math.isfinite(float(v)):
        return float(v)
    return None


def _count(v: Any) -> int | None:
    n = _number(v)
    return int(n) if n is not None else None


def _latency(v: Any) -> dict[str, float]:
    if not isinstance(v, Mapping):
        return {}
    return {str(k): float(x) for k, x in v.items() if _number(x) is not None}


def _headline(fig: Mapping[str, Any]) -> tuple[str | None, float | None]:
    head = fig.get("headline")
    if isinstance(head, Mapping) and isinstance(head.get("name"), str):
        return head["name"], _number(head.get("value"))
    if _number(fig.get("top1")) is not None:  # a report written before tasks existed
        return "top1", _number(fig["top1"])
    return None, None


def row_from_report(
    report: Mapping[str, Any], *, label: str | None = None, source: str | Path | None = None
) -> CompareRow:
    """The comparison row of one run's report dict (its ``final`` figures and stage times).

    Missing or malformed figures become None (or empty), never an error.

    Args:
        report: a report dict as ``slimkit run`` writes it to report.json.
        label: the row's label (default: the recipe's name, else the source's folder name).
        source: the run directory the report came from.

    Returns:
        The row.

    Example:
        >>> r = row_from_report({"recipe": {"name": "slim"},
        ...     "final": {"params": 900, "macs": 4000, "latency_ms": {"ort_bs1": 0.5},
        ...               "headline": {"name": "top1", "value": 0.9}},
        ...     "stages": [{"kind": "train", "name": "train", "seconds": 12.34}],
        ...     "total_seconds": 13.0})
        >>> (r.label, r.headline_value, r.macs, r.stage_seconds)
        ('slim', 0.9, 4000, [('train', 12.34)])
    """
    src = Path(source) if source is not None else None
    recipe = report.get("recipe") if isinstance(report.get("recipe"), Mapping) else {}
    if label is None:
        label = recipe.get("name") if isinstance(recipe.get("name"), str) else None
        label = label or (src.name if src is not None else "run")
    fin = report.get("final") if isinstance(report.get("final"), Mapping) else {}
    name, value = _headline(fin)
    stages = []
    for st in report.get("stages") or []:
        if not isinstance(st, Mapping) or _number(st.get("seconds")) is None:
            continue
        stages.append((str(st.get("name") or st.get("kind") or "stage"), float(st["seconds"])))
    total = _number(report.get("total_seconds"))
    if total is None and stages:
        total = sum(s for _, s in stages)
    return CompareRow(
        label=label,
        headline_name=name,
        headline_value=value,
        params=_count(fin.get("params")),
        macs=_count(fin.get("macs")),
        latency_ms=_latency(fin.get("latency_ms")),
        stage_seconds=stages,
        total_seconds=total,
        source=src,
    )


def _dense_row(report: Mapping[str, Any], run: CompareRow, label: str) -> CompareRow:
    """The starting model of ``report``: its ``initial`` figures (headline when recorded)."""
    ini = report.get("initial") if isinstance(report.get("initial"), Mapping) else {}
    metrics = ini.get("metrics") if isinstance(ini.get("metrics"), Mapping) else {}
    name = run.headline_name
    value = _number(metrics.get(name, ini.get(name))) if name else None
    return CompareRow(
        label=label,
        headline_name=name,
        headline_value=value,
        params=_count(ini.get("params")),
        macs=_count(ini.get("macs")),
        latency_ms=_latency(ini.get("latency_ms")),
        is_dense=True,
        source=run.source,
        higher_is_better=run.higher_is_better,
    )


def _load_run(path: Path) -> tuple[dict[str, Any] | None, str]:
    """``(report, "")`` or ``(None, why it is not a run directory)``."""
    if path.is_file() and path.name == _REPORT_JSON:
        path = path.parent
    if not path.is_dir():
        return None, "no such directory"
    file = path / _REPORT_JSON
    if not file.is_file():
        return None, f"no {_REPORT_JSON}"
    try:
        report = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as err:
        return None, f"{_REPORT_JSON} is unreadable: {err.__class__.__name__}"
    except json.JSONDecodeError as err:
        return None, f"{_REPORT_JSON} is not valid JSON: {err.msg} at line {err.lineno}"
    if not isinstance(report, dict) or not isinstance(report.get("final"), Mapping):
        return None, f"{_REPORT_JSON} has no 'final' figures"
    return report, ""


def _unique(label: str, taken: set[str], hint: str) -> str:
    """``label``, else ``label (hint)``, else ``label (hint) #2``... whichever is free."""
    for candidate in (label, f"{label} ({hint})"):
        if candidate not in taken:
            return candidate
    n = 2
    while f"{label} ({hint}) #{n}" in taken:
        n += 1
    return f"{label} ({hint}) #{n}"


def rows_from_runs(
    paths: Iterable[str | Path],
    echo: Callable[[str], None] = print,
    *,
    baseline: str | Path | None = None,
) -> list[CompareRow]:
    """Load the runs to compare: a ``dense`` row, then one row per run directory.

    A path that is not a finished run directory (missing, no report.json, invalid JSON, no
    ``final`` figures) is skipped with one line through ``echo``. A path to a report.json
    counts as its folder. Each run is labelled with its recipe name; runs that share a name
    get their folder name added. The ``dense`` row is the uncompressed model the baseline
    run started from (its ``initial`` params and MACs, and latency and headline when the
    report recorded them).

    Args:
        paths: run directories written by ``slimkit run``.
        echo: receives one line per skipped path.
        baseline: the run whose starting model is the dense row, by label or path (default
            or when it matches no run: the first run).

    Returns:
        ``[dense, run1, run2, ...]``.

    Raises:
        ValueError: one line when no path is a run directory.

    Example:
        >>> import tempfile
        >>> rows_from_runs([tempfile.gettempdir()], echo=lambda line: None)
        Traceback (most recent call last):
        ...
        ValueError: compare: no slimkit run directory among the 1 path(s) given (each needs a report.json)
    """
    paths = [Path(p) for p in paths]
    loaded: list[tuple[Path, dict[str, Any]]] = []
    for path in paths:
        report, why = _load_run(path)
        if report is None:
            echo(f"skipping {path}: not a slimkit run directory ({why})")
            continue
        loaded.append((path.parent if path.is_file() else path, report))
    if not loaded:
        raise ValueError(
            f"compare: no slimkit run directory among the {len(paths)} path(s) given "
            f"(each needs a {_REPORT_JSON})"
        )
    rows = [row_from_report(report, source=path) for path, report in loaded]
    names = Counter(r.label for r in rows)
    taken: set[str] = set()
    for row in rows:
        if names[row.label] > 1 and row.source is not None:
            row.label = _unique(row.label, taken, row.source.name)
        row.label = _unique(row.label, taken, "run")
        taken.add(row.label)
    base = _match(rows, baseline) if baseline is not None else None
    index = rows.index(base) if base is not None else 0
    dense = _dense_row(loaded[index][1], rows[index], _unique(_DENSE_LABEL, taken, "initial"))
    return [dense, *rows]


# --------------------------------------------------------------------------- the table


def _match(rows: Sequence[CompareRow], baseline: str | Path) -> CompareRow | None:
    """The row labelled ``baseline``, else the (non-dense first) row whose source is that path."""
    text = str(baseline)
    for row in rows:
        if row.label == text:
            return row
    want = Path(baseline).resolve()
    if want.name == _REPORT_JSON and want.is_file():
        want = want.parent
    # a dense row shares its run's source: the run itself wins
    for row in sorted(rows, key=lambda r: r.is_dense):
        if row.source is not None and Path(row.source).resolve() == want:
            return row
    return None


def _baseline_row(rows: Sequence[CompareRow], baseline: str | Path | None) -> CompareRow:
    if baseline is None:
        return next((r for r in rows if not r.is_dense), rows[0])
    found = _match(rows, baseline)
    if found is None:
        labels = ", ".join(repr(r.label) for r in rows)
        raise ValueError(
            f"baseline: {str(baseline)!r} matches no row by label or path; labels: {labels}"
        )
    return found


def _split_key(key: str) -> tuple[str, int]:
    """``"ort_bs32"`` -> ``("ort", 32)``; a key without a batch size -> ``(key, 0)``."""
    m = _BATCH_KEY.fullmatch(key)
    return (m.group(1), int(m.group(2))) if m else (key, 0)


def _latency_keys(rows: Sequence[CompareRow]) -> list[str]:
    """Every latency key of any row: runtimes in order of first appearance, then batch size."""
    seen = list(dict.fromkeys(k for r in rows for k in r.latency_ms))
    split = {k: _split_key(k) for k in seen}
    runtimes = list(dict.fromkeys(runtime for runtime, _ in split.values()))
    return sorted(seen, key=lambda k: (runtimes.index(split[k][0]), split[k][1]))


def _speedup_key(rows: Sequence[CompareRow], base: CompareRow, keys: list[str]) -> str | None:
    """``ort_bs32`` when the baseline has it, else the first of its keys most rows share."""
    own = [k for k in keys if k in base.latency_ms]
    if _SPEEDUP_KEY in own:
        return _SPEEDUP_KEY
    others = [r for r in rows if r is not base and r.latency_ms]
    shared = [(sum(k in r.latency_ms for r in others), -i, k) for i, k in enumerate(own)]
    best = max(shared, default=None)
    return best[2] if best is not None and best[0] > 0 else (own[0] if own else None)


def _ratio(num: float | None, den: float | None) -> str:
    if num is None or den is None or den <= 0 or num <= 0:
        return _DASH
    return f"{num / den:.2f}×"


def _metric_label(name: str) -> str:
    return _METRIC_LABELS.get(name, name)


def _headline_text(row: CompareRow, with_name: bool) -> str:
    if row.headline_value is None:
        return _DASH
    name = row.headline_name or ""
    value = (_pct if name in _FRACTIONS else _fmt)(row.headline_value)
    return f"{_metric_label(name)} {value}" if with_name and name else value


def _stages_text(row: CompareRow) -> str:
    return " · ".join(f"{name} {sec:.1f}s" for name, sec in row.stage_seconds) or _DASH


@dataclass
class _Table:
    header: list[str]
    rows: list[list[str]]
    notes: list[str]


def _build_table(rows: Sequence[CompareRow], base: CompareRow) -> _Table:
    names = {r.headline_name for r in rows if r.headline_name and r.headline_value is not None}
    single = next(iter(names)) if len(names) == 1 else None
    keys = _latency_keys(rows)
    speed_key = _speedup_key(rows, base, keys)
    header = [
        "run",
        _metric_label(single) if single else "headline",
        "params",
        "MACs",
        *keys,
        "MACs × fewer",
        f"speed-up ({speed_key})" if speed_key else "speed-up",
        "stages",
        "total",
    ]
    body = []
    for r in rows:
        label = r.label + (" (baseline)" if r is base else "")
        speed = (
            _ratio(base.latency_ms.get(speed_key), r.latency_ms.get(speed_key))
            if speed_key
            else _DASH
        )
        total = f"{r.total_seconds:.1f}s" if r.total_seconds is not None else _DASH
        body.append(
            [
                label,
                _headline_text(r, with_name=single is None),
                _millions(r.params),
                _millions(r.macs),
                *(_ms(r.latency_ms.get(k)) for k in keys),
                _ratio(_number(base.macs), _number(r.macs)),
                speed,
                _stages_text(r),
                total,
            ]
        )
    notes = [
        f"Baseline: {base.label}. Params and MACs in millions (M); MACs are multiply-accumulates "
        "(FLOPs = 2 × MACs). Latency is the median per call. "
        "MACs × fewer = baseline MACs / row MACs"
        + (f"; speed-up = baseline {speed_key} / row {speed_key}." if speed_key else ".")
    ]
    dense = [r for r in rows if r.is_dense]
    if dense:
        notes.append(
            ", ".join(r.label for r in dense)
            + ": the uncompressed starting model (initial figures of its run; "
            + "its headline metric was not measured unless shown)."
        )
    return _Table(header, body, notes)


def _markdown(table: _Table, rows: Sequence[CompareRow], title: str, png: str) -> str:
    n = len(table.header)
    lines = [f"# {title}", ""]
    lines.append("| " + " | ".join(_cell(h) for h in table.header) + " |")
    lines.append("|---|" + "---:|" * (n - 3) + "---|---:|")
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in table.rows]
    lines += ["", *(note + "\n" for note in table.notes), f"![pareto]({png})", ""]
    sources = [r for r in rows if r.source is not None]
    if sources:
        lines += ["Sources:", ""]
        lines += [f"- {r.label}: `{r.source}`" for r in sources]
    return "\n".join(lines).rstrip("\n") + "\n"


_CSS = (
    "body{font-family:system-ui,sans-serif;margin:2em;color:#222}"
    "table{border-collapse:collapse;font-size:14px}"
    "th,td{border:1px solid #ccc;padding:4px 8px;text-align:right}"
    "th{background:#f3f3f3}td:first-child,th:first-child,td:nth-last-child(2){text-align:left}"
    "img{max-width:100%;margin-top:1em}p,li{font-size:14px}"
)


def _html(table: _Table, rows: Sequence[CompareRow], title: str, png: bytes) -> str:
    esc = html.escape
    head = "".join(f"<th>{esc(h)}</th>" for h in table.header)
    body = "".join(
        "<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>\n" for row in table.rows
    )
    notes = "".join(f"<p>{esc(n)}</p>\n" for n in table.notes)
    image = base64.b64encode(png).decode("ascii")
    sources = "".join(
        f"<li>{esc(r.label)}: <code>{esc(str(r.source))}</code></li>"
        for r in rows
        if r.source is not None
    )
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{esc(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        f"<h1>{esc(title)}</h1>\n<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}"
        f"</tbody>\n</table>\n{notes}"
        f'<img alt="Pareto plot" src="data:image/png;base64,{image}">\n'
        + (f"<p>Sources:</p>\n<ul>{sources}</ul>\n" if sources else "")
        + "</body>\n</html>\n"
    )


# --------------------------------------------------------------------------- the plot


def _front(points: list[tuple[float, float]], higher: bool) -> list[tuple[float, float]]:
    """The Pareto front (lowest cost, best metric), sorted by cost."""
    front: list[tuple[float, float]] = []
    for x, y in sorted(points, key=lambda p: (p[0], -p[1] if higher else p[1])):
        if not front or (y > front[-1][1] if higher else y < front[-1][1]):
            front.append((x, y))
    return front


def _latency_panel_key(rows: Sequence[CompareRow]) -> str | None:
    present = Counter(k for r in rows if r.headline_value is not None for k in r.latency_ms)
    for key in _LATENCY_PANEL_KEYS:
        if present[key]:
            return key
    anywhere = Counter(k for r in rows for k in r.latency_ms)
    return (present or anywhere).most_common(1)[0][0] if (present or anywhere) else None


def _panel(
    ax: Axes,
    rows: Sequence[CompareRow],
    base: CompareRow,
    metric: str | None,
    cost: Callable[[CompareRow], float | None],
    xlabel: str,
) -> None:
    plotted = [
        r
        for r in rows
        if cost(r) is not None
        and r.headline_value is not None
        and (metric is None or r.headline_name == metric)
    ]
    scale = 100.0 if metric in _FRACTIONS else 1.0
    ylabel = (_metric_label(metric) if metric else "headline") + (" (%)" if scale == 100 else "")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.3)
    # rows with a cost but no headline (the dense row of a run): a vertical line at their cost
    for r in rows:
        if r.is_dense and r not in plotted and cost(r) is not None:
            ax.axvline(cost(r), color="0.4", linestyle=":", linewidth=1.2, label=f"{r.label}")
    if not plotted:
        ax.text(
            0.5,
            0.5,
            f"no data: no row has both {ylabel} and {xlabel}",
            transform=ax.transAxes,
            ha="center",
            va="center",
            fontsize=9,
            color="0.4",
            wrap=True,
        )
        ax.set_xticks([])
        ax.set_yticks([])
        if ax.get_legend_handles_labels()[0]:
            ax.legend(loc="best", fontsize=8)
        return
    higher = plotted[0].better_is_higher
    if not higher:
        ax.set_ylabel(f"{ylabel}, lower is better")
    pts = {id(r): (float(cost(r) or 0.0), float(r.headline_value or 0.0) * scale) for r in plotted}
    front = _front(list(pts.values()), higher)
    if len(front) > 1:
        fx, fy = zip(*front, strict=True)
        ax.step(fx, fy, where="post", color="tab:blue", alpha=0.6, label="Pareto front")
    for r in plotted:
        x, y = pts[id(r)]
        if r.is_dense:
            style = {"marker": "s", "color": "0.2", "s": 70, "zorder": 4}
        elif r is base:
            style = {"marker": "*", "color": "tab:red", "s": 160, "zorder": 5}
        else:
            style = {"marker": "o", "color": "tab:blue", "s": 36, "zorder": 3}
        ax.scatter([x], [y], **style)
        tag = r.label + (" (baseline)" if r is base else "")
        ax.annotate(tag, (x, y), textcoords="offset points", xytext=(5, 4), fontsize=8)
    xs = [p[0] for p in pts.values()] + [
        c for r in rows if r.is_dense and (c := cost(r)) is not None
    ]
    if min(xs) > 0 and max(xs) / min(xs) > _LOG_SCALE_RATIO:
        ax.set_xscale("log")
    ax.margins(x=0.12, y=0.08)  # room for the labels of the outermost points
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="best", fontsize=8)


def _plot(rows: Sequence[CompareRow], base: CompareRow, path: Path) -> Path:
    named = Counter(r.headline_name for r in rows if r.headline_value is not None)
    metric = base.headline_name if base.headline_name in named else None
    if metric is None and named:
        metric = named.most_common(1)[0][0]
    key = _latency_panel_key(rows)
    fig, (left, right) = new_figure(1, 2, figsize=(11.0, 4.5))

    def macs(r: CompareRow) -> float | None:
        return r.macs / 1e6 if r.macs else None

    def latency(r: CompareRow) -> float | None:
        return r.latency_ms.get(key) if key else None

    name = _metric_label(metric) if metric else "headline"
    _panel(left, rows, base, metric, macs, "MACs (M)")
    left.set_title(f"{name} vs MACs", fontsize=10)
    _panel(right, rows, base, metric, latency, f"{key} latency (ms)" if key else "latency (ms)")
    right.set_title(f"{name} vs latency ({key})" if key else f"{name} vs latency", fontsize=10)
    return save_figure(fig, path)


def render_comparison(
    rows: Sequence[CompareRow],
    out_dir: str | Path,
    baseline: str | Path | None = None,
    title: str = "slimkit comparison",
) -> dict[str, Path]:
    """Write ``compare.md``, ``compare.html`` and ``pareto.png`` for ``rows``.

    The table has one line per row: headline metric, params and MACs (millions), every
    latency key any row has (ms), MACs × fewer and speed-up against the baseline row (the
    speed-up uses ``ort_bs32`` when the baseline has it, else the latency key the baseline
    shares with most rows), the stage times (``train 12.3s · prune 1.0s``) and the total.
    ``pareto.png`` plots the headline against MACs and against ORT latency (``ort_bs32``,
    else ``ort_bs1``, else any key) with the Pareto front as a step line; the baseline is a
    red star, dense rows a dark square (a dotted line at their cost when their headline is
    unknown). ``compare.html`` holds the same table with the plot embedded, one
    self-contained file. Text files are written atomically.

    Args:
        rows: the rows, in table order; labels should be unique.
        out_dir: folder to write into (created if needed).
        baseline: the ratio baseline, a row label or a row's source path (default: the first
            row that is not dense).
        title: heading of the markdown and HTML pages.

    Returns:
        ``{"md": ..., "html": ..., "pareto": ...}``: the paths written.

    Raises:
        ValueError: one line when ``rows`` is empty or ``baseline`` matches no row.

    Example:
        >>> import tempfile
        >>> rows = [CompareRow("a", "top1", 0.9, 1000, 8000), CompareRow("b", "top1", 0.8, 500, 2000)]
        >>> try:
        ...     render_comparison(rows, tempfile.mkdtemp(), baseline="c")
        ... except ValueError as err:
        ...     print(err)
        baseline: 'c' matches no row by label or path; labels: 'a', 'b'
    """
    rows = list(rows)
    if not rows:
        raise ValueError("compare: no rows to compare (no valid run remains)")
    base = _baseline_row(rows, baseline)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    table = _build_table(rows, base)
    png = _plot(rows, base, out / PARETO_PNG)
    md = atomic_write_text(out / COMPARE_MD, _markdown(table, rows, title, PARETO_PNG))
    page = atomic_write_text(out / COMPARE_HTML, _html(table, rows, title, png.read_bytes()))
    return {"md": md, "html": page, "pareto": png}
