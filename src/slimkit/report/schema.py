"""The report.json contract and its validator.

`REPORT_REQUIRED` maps each required dotted key to the kind of value it must hold;
`REPORT_OPTIONAL` lists keys that are checked only when present (and not ``None``).
Every task reports ``final.metrics`` (name -> number) and ``final.headline`` (``{name, value}``,
the task's headline metric); classification also keeps ``final.top1``.
``final.latency_ms`` is required but may be empty: a recipe without a ``measure`` stage, or
one that measures only ONNX Runtime, has no ``torch_bs1``. Keys
under ``stages[]`` apply to every stage dict. Unknown keys are allowed everywhere: methods
add their own figures to stages and to the top level.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from numbers import Integral, Real
from typing import Any

__all__ = [
    "REPORT_OPTIONAL",
    "REPORT_REQUIRED",
    "STAGE_OPTIONAL",
    "STAGE_REQUIRED",
    "ReportError",
    "validate_report",
]


class ReportError(ValueError):
    """A report dict (or report.json) that breaks the contract; the message is one line."""


REPORT_REQUIRED: dict[str, str] = {
    "slimkit_version": "str",
    "recipe": "dict",
    "dataset": "dict",
    "dataset.name": "str",
    "dataset.train_size": "count",
    "dataset.test_size": "count",
    "initial": "dict",
    "initial.params": "count",
    "initial.macs": "count",
    "final": "dict",
    "final.params": "count",
    "final.macs": "count",
    "final.metrics": "metrics",
    "final.headline": "headline",
    "final.latency_ms": "latency",
    "stages": "list[dict]",
    "artifacts": "dict",
    "artifacts.model": "str",
    "artifacts.onnx": "str|null",
    "artifacts.report_md": "str",
}
"""Required dotted keys of report.json and the kind of value each holds."""

REPORT_OPTIONAL: dict[str, str] = {
    "plots": "list[str]",
    "run_dir": "str",
    "created": "str",
    "host": "dict",
    "command": "command",
    "final.latency_ms.torch_bs1": "ms",
    "final.top1": "fraction",
    "initial.top1": "fraction",
    "initial.latency_ms": "latency",
}
"""Optional dotted keys, validated only when present and not ``None``."""

STAGE_REQUIRED: dict[str, str] = {"kind": "str", "seconds": "seconds"}
"""Required keys of every entry of ``report["stages"]``."""

STAGE_OPTIONAL: dict[str, str] = {"top1": "fraction", "epochs": "count"}
"""Optional keys of a stage, validated only when present and not ``None``."""


def _is_int(v: Any) -> bool:
    return isinstance(v, Integral) and not isinstance(v, bool)


def _is_real(v: Any) -> bool:
    return isinstance(v, Real) and not isinstance(v, bool) and math.isfinite(float(v))


def _is_latency(v: Any) -> bool:
    return isinstance(v, Mapping) and all(
        isinstance(k, str) and _is_real(x) and float(x) >= 0 for k, x in v.items()
    )


_KINDS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "str": (lambda v: isinstance(v, str), "a string"),
    "dict": (lambda v: isinstance(v, Mapping), "an object (dict)"),
    "count": (lambda v: _is_int(v) and v >= 0, "an integer >= 0"),
    "seconds": (lambda v: _is_real(v) and v >= 0, "a finite number of seconds >= 0"),
    "ms": (lambda v: _is_real(v) and v >= 0, "a finite number of milliseconds >= 0"),
    "fraction": (lambda v: _is_real(v) and 0.0 <= float(v) <= 1.0, "a float in [0, 1]"),
    "latency": (_is_latency, "an object mapping names to milliseconds >= 0"),
    "list[dict]": (
        lambda v: isinstance(v, list) and all(isinstance(x, Mapping) for x in v),
        "a list of objects (dicts)",
    ),
    "list[str]": (
        lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v),
        "a list of strings",
    ),
    "metrics": (
        lambda v: (
            isinstance(v, Mapping) and all(isinstance(k, str) and _is_real(x) for k, x in v.items())
        ),
        "an object mapping metric names to finite numbers",
    ),
    "headline": (
        lambda v: (
            isinstance(v, Mapping) and isinstance(v.get("name"), str) and _is_real(v.get("value"))
        ),
        "an object {name: str, value: finite number}",
    ),
    "str|null": (lambda v: v is None or isinstance(v, str), "a string or null"),
    "command": (
        lambda v: (
            isinstance(v, str) or (isinstance(v, list) and all(isinstance(x, str) for x in v))
        ),
        "a string or a list of strings",
    ),
}

_MISSING = object()


def _short(v: Any, limit: int = 60) -> str:
    text = repr(v).replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _lookup(obj: Mapping[str, Any], dotted: str) -> Any:
    cur: Any = obj
    for part in dotted.split("."):
        if not isinstance(cur, Mapping) or part not in cur:
            return _MISSING
        cur = cur[part]
    return cur


def _check(value: Any, where: str, kind: str, required: bool) -> None:
    test, allowed = _KINDS[kind]
    if value is _MISSING or (value is None and not required):
        if required:
            raise ReportError(f"report.json: missing required key '{where}' ({allowed})")
        return
    if not test(value):
        raise ReportError(f"report.json: {where} must be {allowed}, got {_short(value)}")


def validate_report(report: Mapping[str, Any]) -> None:
    """Check a report dict against the report.json contract.

    Parents are checked before their children, so a missing ``final`` is reported as
    ``final`` rather than as ``final.params``. Extra keys are allowed.

    Args:
        report: the report dict the pipeline built (or one loaded from report.json).

    Raises:
        ReportError: one line naming the first missing or bad key, what it must be, and
            the value found.

    Example:
        >>> from slimkit.report import ReportError, validate_report
        >>> try:
        ...     validate_report({"slimkit_version": "0.1.0"})
        ... except ReportError as err:
        ...     print(err)
        report.json: missing required key 'recipe' (an object (dict))
    """
    if not isinstance(report, Mapping):
        raise ReportError(
            f"report.json: the report must be an object (dict), got {type(report).__name__}"
        )
    for key, kind in REPORT_REQUIRED.items():
        _check(_lookup(report, key), key, kind, required=True)
    for key, kind in REPORT_OPTIONAL.items():
        _check(_lookup(report, key), key, kind, required=False)
    for i, stage in enumerate(report["stages"]):
        for key, kind in STAGE_REQUIRED.items():
            _check(stage.get(key, _MISSING), f"stages[{i}].{key}", kind, required=True)
        for key, kind in STAGE_OPTIONAL.items():
            _check(stage.get(key, _MISSING), f"stages[{i}].{key}", kind, required=False)
