"""Render report.md from a report dict."""

from __future__ import annotations

import json
import math
import shlex
from collections.abc import Mapping
from numbers import Integral, Real
from pathlib import PurePath
from typing import Any

__all__ = ["render_markdown"]

_DASH = "—"
_INLINE_LIMIT = 60  # characters of a dict/list field shown inside a table cell
_DETAIL_ROWS = 40  # rows of a collapsed table before "... and N more"
_DETAIL_CHARS = 2000  # characters of collapsed JSON before truncation
_STAGE_COLUMNS = ("kind", "name", "seconds", "top1")
# metrics shown as percentages (fractions in [0, 1]); others are plain numbers
_FRACTIONS = {
    "top1",
    "top5",
    "map",
    "map50",
    "map50_train",
    "map_train",
    "miou",
    "pixel_acc",
    "miou_background_only",
}
_METRIC_LABELS = {
    "top1": "top-1",
    "top5": "top-5",
    "map": "mAP@[.5:.95]",
    "map50": "mAP@.5",
    "map75": "mAP@.75",
    "miou": "mIoU",
    "mae": "MAE",
    "rmse": "RMSE",
    "spearman": "Spearman ρ",
}


def _is_scalar(v: Any) -> bool:
    return v is None or isinstance(v, str | bool | Real)


def _fmt(v: Any) -> str:
    """One scalar as table text: 4 significant digits for floats."""
    if v is None:
        return _DASH
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, Integral):
        return str(int(v))
    if isinstance(v, Real):
        f = float(v)
        return str(f) if not math.isfinite(f) else f"{f:.4g}"
    return str(v)


def _cell(text: str) -> str:
    return text.replace("\n", " ").replace("|", "\\|")


def _millions(n: Any) -> str:
    if not isinstance(n, Real) or isinstance(n, bool):
        return _DASH
    v = float(n) / 1e6
    return f"{v:,.0f} M" if v >= 1000 else f"{v:.4g} M"


def _pct(v: Any) -> str:
    if not isinstance(v, Real) or isinstance(v, bool) or not math.isfinite(float(v)):
        return _DASH
    return f"{100 * float(v):.2f} %"


def _ms(v: Any) -> str:
    if not isinstance(v, Real) or isinstance(v, bool) or not math.isfinite(float(v)):
        return _DASH
    f = float(v)
    return f"{f:.0f} ms" if f >= 100 else f"{f:.3g} ms"


def _rel_change(initial: Any, final: Any) -> str:
    ok = all(isinstance(x, Real) and not isinstance(x, bool) for x in (initial, final))
    if not ok or not initial or not math.isfinite(float(final) / float(initial)):
        return ""
    ratio = float(final) / float(initial)
    if ratio == 1:
        return "unchanged"
    text = f"{100 * (ratio - 1):+.1f} %"
    return text + (f" ({1 / ratio:.2f}× smaller)" if 0 < ratio < 1 else "")


def _pp_change(initial: Any, final: Any) -> str:
    ok = all(isinstance(x, Real) and not isinstance(x, bool) for x in (initial, final))
    return f"{100 * (float(final) - float(initial)):+.2f} pp" if ok else ""


def _inline(v: Any) -> str | None:
    """Compact one-line text for a dict/list field, or None when too long for a cell."""
    if isinstance(v, Mapping) and all(_is_scalar(x) for x in v.values()):
        text = "{" + ", ".join(f"{k}: {_fmt(x)}" for k, x in v.items()) + "}"
    elif isinstance(v, list | tuple) and all(_is_scalar(x) for x in v):
        text = "[" + ", ".join(_fmt(x) for x in v) + "]"
    else:
        text = json.dumps(v, default=str, separators=(",", ":"))
    return text if len(text) <= _INLINE_LIMIT else None


def _table(header: list[str], rows: list[list[str]], total: int) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    if total > len(rows):
        lines.append(f"\n… and {total - len(rows)} more")
    return lines


def _detail(title: str, v: Any) -> list[str]:
    """A collapsed block showing a dict/list field: a table when it is tabular, else JSON."""
    body: list[str]
    if isinstance(v, Mapping) and all(_is_scalar(x) for x in v.values()):
        items = list(v.items())
        rows = [[str(k), _fmt(x)] for k, x in items[:_DETAIL_ROWS]]
        body = _table(["key", "value"], rows, len(items))
    elif (
        isinstance(v, list)
        and v
        and all(isinstance(x, Mapping) and all(_is_scalar(y) for y in x.values()) for x in v)
    ):
        cols: list[str] = []
        for x in v:
            cols += [str(k) for k in x if str(k) not in cols]
        rows = [[_fmt(x.get(c)) for c in cols] for x in v[:_DETAIL_ROWS]]
        body = _table(cols, rows, len(v))
    else:
        text = json.dumps(v, indent=1, default=str)
        if len(text) > _DETAIL_CHARS:
            text = text[:_DETAIL_CHARS] + f"\n… ({len(text) - _DETAIL_CHARS} more characters)"
        body = ["```json", text, "```"]
    return ["<details>", f"<summary>{title}</summary>", "", *body, "", "</details>", ""]


def _summary(report: Mapping[str, Any]) -> list[str]:
    ini = report.get("initial") or {}
    fin = report.get("final") or {}
    rows = [
        [
            "params",
            _millions(ini.get("params")),
            _millions(fin.get("params")),
            _rel_change(ini.get("params"), fin.get("params")),
        ],
        [
            "MACs",
            _millions(ini.get("macs")),
            _millions(fin.get("macs")),
            _rel_change(ini.get("macs"), fin.get("macs")),
        ],
    ]
    metrics = fin.get("metrics") if isinstance(fin.get("metrics"), Mapping) else {}
    if not metrics and "top1" in fin:  # a report written before tasks existed
        metrics = {"top1": fin["top1"]}
    ini_metrics = ini.get("metrics") if isinstance(ini.get("metrics"), Mapping) else {}
    headline = (
        (fin.get("headline") or {}).get("name")
        if isinstance(fin.get("headline"), Mapping)
        else None
    )
    for name in sorted(metrics, key=lambda k: (k != headline, k)):
        a, b = ini_metrics.get(name, ini.get(name)), metrics[name]
        label = _METRIC_LABELS.get(name, name)
        if name in _FRACTIONS:
            rows.append([label, _pct(a), _pct(b), _pp_change(a, b)])
        else:
            rows.append([label, _fmt(a), _fmt(b), ""])
    lat_i = ini.get("latency_ms") if isinstance(ini.get("latency_ms"), Mapping) else {}
    lat_f = fin.get("latency_ms") if isinstance(fin.get("latency_ms"), Mapping) else {}
    for key in [*lat_f, *(k for k in lat_i if k not in lat_f)]:
        a, b = lat_i.get(key), lat_f.get(key)
        rows.append([f"latency {key}", _ms(a), _ms(b), _rel_change(a, b)])
    lines = _table(["", "initial", "final", "change"], rows, len(rows))
    lines[1] = "|---|---:|---:|---:|"
    return [
        "## Summary",
        "",
        *lines,
        "",
        "Params and MACs in millions (M); MACs are multiply-accumulates (FLOPs = 2 × MACs). "
        "Latency is the median per call, in milliseconds."
        + (
            f" The task's headline metric is {_METRIC_LABELS.get(headline, headline)}."
            if headline
            else ""
        ),
        "",
    ]


def _stages(report: Mapping[str, Any]) -> list[str]:
    stages = [s for s in report.get("stages") or [] if isinstance(s, Mapping)]
    if not stages:
        return []
    fin = report.get("final") or {}
    head = fin.get("headline") if isinstance(fin.get("headline"), Mapping) else {}
    metric = head.get("name") or "top1"  # the column shows the task's headline metric
    rows, details = [], []
    for i, st in enumerate(stages):
        kind = _fmt(st.get("kind"))
        if st.get("name") not in (None, "", st.get("kind")):
            kind += f" ({_fmt(st['name'])})"
        figures = []
        for k, v in st.items():
            if k in _STAGE_COLUMNS or k == metric:
                continue
            if _is_scalar(v):
                figures.append(f"{k}={_fmt(v)}")
                continue
            short = _inline(v)
            if short is not None:
                figures.append(f"{k}={short}")
            else:
                n = len(v) if isinstance(v, Mapping | list | tuple) else 1
                figures.append(f"{k}=({n} entries, below)")
                details += _detail(f"stage {i} ({_fmt(st.get('kind'))}): {k}", v)
        rows.append(
            [
                str(i),
                kind,
                _fmt(st.get("seconds")),
                (_pct if metric in _FRACTIONS else _fmt)(st.get(metric)),
                ", ".join(figures),
            ]
        )
    label = _METRIC_LABELS.get(metric, metric)
    lines = _table(["#", "kind", "seconds", label, "figures"], rows, len(rows))
    lines[1] = "|---:|---|---:|---:|---|"
    return ["## Stages", "", *lines, "", *details]


def _link(path: Any) -> str:
    if not isinstance(path, str) or not path:
        return _DASH
    if PurePath(path).is_absolute():
        return f"`{path}`"
    return f"[`{path}`]({path})"


def _artifacts(report: Mapping[str, Any]) -> list[str]:
    arts = report.get("artifacts") or {}
    lines = ["## Artifacts", ""]
    for key, label in (("model", "model"), ("onnx", "ONNX"), ("report_md", "report")):
        value = arts.get(key)
        text = "not exported" if key == "onnx" and value is None else _link(value)
        lines.append(f"- {label}: {text}")
    lines.append(
        "- report data: [`report.json`](report.json), metrics: [`metrics.jsonl`](metrics.jsonl)"
    )
    for key, value in arts.items():
        if key not in ("model", "onnx", "report_md"):
            lines.append(f"- {key}: {_link(value) if isinstance(value, str) else _fmt(value)}")
    return [*lines, ""]


def _recipe(recipe: Any) -> list[str]:
    if not isinstance(recipe, Mapping) or not recipe:
        return []
    import yaml

    try:
        text, lang = yaml.safe_dump(dict(recipe), sort_keys=False).rstrip(), "yaml"
    except yaml.YAMLError:  # a value YAML cannot represent: fall back to JSON
        text, lang = json.dumps(recipe, indent=2, default=str), "json"
    return [
        "<details>",
        "<summary>Resolved recipe</summary>",
        "",
        f"```{lang}",
        text,
        "```",
        "",
        "</details>",
        "",
    ]


def _title(report: Mapping[str, Any]) -> str:
    recipe = report.get("recipe") if isinstance(report.get("recipe"), Mapping) else {}
    name = recipe.get("name")
    if not name and isinstance(report.get("run_dir"), str):
        name = PurePath(report["run_dir"]).name
    return f"# slimkit report: {name or 'run'}"


def _header(report: Mapping[str, Any]) -> list[str]:
    facts = []
    if report.get("created"):
        facts.append(str(report["created"]))
    total = report.get("total_seconds")
    if isinstance(total, Real) and not isinstance(total, bool):
        facts.append(f"total {float(total):.1f} s")
    if report.get("slimkit_version"):
        facts.append(f"slimkit {report['slimkit_version']}")
    host = report.get("host")
    if isinstance(host, Mapping):
        facts += [f"{k} {_fmt(v)}" for k, v in host.items() if _is_scalar(v)]
    if isinstance(report.get("run_dir"), str):
        facts.append(f"run dir `{report['run_dir']}`")
    lines = [_title(report), ""]
    if facts:
        lines += [" · ".join(facts), ""]
    ds = report.get("dataset") or {}
    if ds:
        train, test = ds.get("train_size"), ds.get("test_size")
        sizes = ", ".join(
            f"{n:,} {what}"
            for n, what in ((train, "train"), (test, "test"))
            if isinstance(n, Integral)
        )
        lines += [
            f"**Dataset:** {ds.get('name', _DASH)}" + (f" ({sizes} images)" if sizes else ""),
            "",
        ]
    return lines


def _command(report: Mapping[str, Any]) -> list[str]:
    cmd = report.get("command")
    if isinstance(cmd, list | tuple):
        cmd = shlex.join(str(c) for c in cmd)
    if not isinstance(cmd, str) or not cmd:
        return []
    return ["## Reproduce", "", "```bash", cmd, "```", ""]


def render_markdown(report: Mapping[str, Any]) -> str:
    """Render a report dict as report.md.

    Sections: title with the recipe name, run facts and dataset; a summary table of
    initial vs final params and MACs (in millions), top-1 (%) and each latency (ms), with
    the relative change; a table of stages (kind, seconds, top-1 and every other field:
    scalars inline, short dicts/lists inline, long ones in collapsed blocks below the
    table); artifacts; every plot of ``report["plots"]`` embedded; the reproduce command
    when ``report["command"]`` exists; the resolved recipe, collapsed. Missing optional
    parts are left out rather than failing.

    Args:
        report: a report dict (normally already checked by `validate_report`).

    Returns:
        Markdown text ending with a newline.

    Example:
        >>> md = render_markdown({"recipe": {"name": "demo"},
        ...                       "initial": {"params": 2_000_000, "macs": 40_000_000},
        ...                       "final": {"params": 500_000, "macs": 10_000_000, "top1": 0.9}})
        >>> md.splitlines()[0]
        '# slimkit report: demo'
        >>> [line for line in md.splitlines() if line.startswith("| MACs")]
        ['| MACs | 40 M | 10 M | -75.0 % (4.00× smaller) |']
    """
    lines = [*_header(report), *_summary(report), *_stages(report), *_artifacts(report)]
    plots = [p for p in report.get("plots") or [] if isinstance(p, str)]
    if plots:
        lines += ["## Plots", ""]
        for p in plots:
            lines += [f"![{PurePath(p).stem}]({PurePath(p).as_posix()})", ""]
    lines += [*_command(report), *_recipe(report.get("recipe"))]
    return "\n".join(lines).rstrip("\n") + "\n"
