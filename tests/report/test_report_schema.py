"""validate_report: accepts the contract, rejects each kind of breach naming the key."""

from __future__ import annotations

import copy
import math
from typing import Any

import pytest

from slimkit.report import REPORT_REQUIRED, ReportError, validate_report


def _set(report: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, last = dotted.split(".")
    cur = report
    for p in parents:
        cur = cur[int(p)] if isinstance(cur, list) else cur[p]
    if value is _DELETE:
        del cur[last]
    else:
        cur[last] = value


_DELETE = object()


def test_good_report_passes(report):
    validate_report(report)


def test_optional_and_extra_keys_pass(report):
    report["artifacts"]["onnx"] = None
    report["plots"] = ["loss.png", "sparsity/hist.png"]
    report["command"] = ["slimkit", "run", "recipes/x.yaml"]
    report["initial"]["top1"] = 0.95
    report["initial"]["latency_ms"] = {"torch_bs1": 2.0}
    report["stages"].append({"kind": "quantize", "seconds": 0, "weight_bits": {"conv1": 4}})
    report["stages"][0]["top1"] = None  # optional stage figure not measured
    report["anything_new"] = {"nested": [1, 2]}
    validate_report(report)
    report["final"]["latency_ms"] = {"ort_bs32": 3.0}  # measured on ONNX Runtime only
    validate_report(report)
    report["final"]["latency_ms"] = {}  # no measure stage
    validate_report(report)
    validate_report({**report, "stages": []})


def test_every_required_key_is_enforced(report):
    for key in REPORT_REQUIRED:
        broken = copy.deepcopy(report)
        _set(broken, key, _DELETE)
        with pytest.raises(ReportError, match=rf"missing required key '{key}'"):
            validate_report(broken)


def test_message_is_one_line_and_exact(report):
    report["final"]["top1"] = 1.7
    with pytest.raises(ReportError) as info:
        validate_report(report)
    assert str(info.value) == "report.json: final.top1 must be a float in [0, 1], got 1.7"
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    ("key", "value", "named"),
    [
        ("slimkit_version", 1, "slimkit_version must be a string"),
        ("recipe", ["a"], "recipe must be an object"),
        ("dataset.name", None, "dataset.name must be a string, got None"),
        ("dataset.train_size", -5, "dataset.train_size must be an integer >= 0, got -5"),
        ("dataset.test_size", 360.0, "dataset.test_size must be an integer >= 0"),
        ("initial.params", True, "initial.params must be an integer >= 0, got True"),
        ("initial.macs", "40M", "initial.macs must be an integer >= 0, got '40M'"),
        ("final.top1", math.nan, "final.top1 must be a float in [0, 1], got nan"),
        ("final.top1", -0.1, "final.top1 must be a float in [0, 1]"),
        ("final.top1", 91.2, "final.top1 must be a float in [0, 1], got 91.2"),
        ("final.latency_ms", 1.2, "final.latency_ms must be an object mapping names"),
        ("final.latency_ms", {"torch_bs1": -1.0}, "final.latency_ms must be an object"),
        ("final.latency_ms", None, "final.latency_ms must be an object mapping names"),
        ("final.latency_ms.torch_bs1", "fast", "final.latency_ms must be an object"),
        ("final.latency_ms.ort_bs1", math.inf, "final.latency_ms must be an object"),
        ("stages", {"kind": "train"}, "stages must be a list of objects"),
        ("stages", [{"kind": "train", "seconds": 1}, 3], "stages must be a list of objects"),
        ("stages.1.kind", _DELETE, "missing required key 'stages[1].kind'"),
        ("stages.0.seconds", "12", "stages[0].seconds must be a finite number of seconds"),
        ("stages.3.seconds", -1, "stages[3].seconds must be a finite number of seconds >= 0"),
        ("stages.0.top1", 88.0, "stages[0].top1 must be a float in [0, 1], got 88.0"),
        ("stages.2.epochs", 2.5, "stages[2].epochs must be an integer >= 0"),
        ("artifacts.model", None, "artifacts.model must be a string, got None"),
        ("artifacts.onnx", 3, "artifacts.onnx must be a string or null, got 3"),
        ("artifacts.onnx", _DELETE, "missing required key 'artifacts.onnx'"),
        ("artifacts.report_md", ["report.md"], "artifacts.report_md must be a string"),
        ("plots", "loss.png", "plots must be a list of strings, got 'loss.png'"),
        ("plots", ["loss.png", 3], "plots must be a list of strings"),
        ("command", 7, "command must be a string or a list of strings"),
        ("host", "cpu", "host must be an object"),
        ("initial.top1", 2, "initial.top1 must be a float in [0, 1]"),
        ("final.metrics", _DELETE, "missing required key 'final.metrics'"),
        ("final.metrics", {"top1": math.nan}, "final.metrics must be an object mapping metric"),
        ("final.headline", {"name": "top1"}, "final.headline must be an object {name: str"),
        ("final.headline", _DELETE, "missing required key 'final.headline'"),
    ],
)
def test_bad_report_names_the_key(report, key, value, named):
    _set(report, key, value)
    with pytest.raises(ReportError) as info:
        validate_report(report)
    message = str(info.value)
    assert message.startswith("report.json: ")
    assert named in message
    assert "\n" not in message


def test_parent_is_named_before_children(report):
    del report["final"]
    with pytest.raises(ReportError, match=r"missing required key 'final' "):
        validate_report(report)
    report["final"] = "fast"
    with pytest.raises(ReportError, match=r"final must be an object \(dict\), got 'fast'"):
        validate_report(report)


def test_non_dict_report():
    with pytest.raises(ReportError, match="must be an object \\(dict\\), got list"):
        validate_report([])  # type: ignore[arg-type]


def test_long_values_are_truncated_in_message(report):
    report["artifacts"]["model"] = list(range(1000))
    with pytest.raises(ReportError) as info:
        validate_report(report)
    assert len(str(info.value)) < 200
    assert str(info.value).endswith("...")
