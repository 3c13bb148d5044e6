"""End to end: the quickstart recipe through the CLI reaches its accuracy bar and writes a report
that follows the contract (DESIGN.md); other CLI commands work on its run directory."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from slimkit.report import validate_report
from tests.helpers import REPO, run_cli


@pytest.mark.slow  # 40-80 s on 2 cores: CI runs it on its own line
def test_quickstart_recipe(tmp_path: Path) -> None:
    out = tmp_path / "qs"
    start = time.perf_counter()
    proc = run_cli("run", str(REPO / "recipes" / "quickstart.yaml"), "--out", str(out), "-q")
    seconds = time.perf_counter() - start
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"report: {out / 'report.md'}" in proc.stderr
    report = json.loads((out / "report.json").read_text())
    validate_report(report)
    assert report["final"]["top1"] >= 0.95, report["final"]
    assert {"torch_bs1", "ort_bs1", "torch_bs32", "ort_bs32"} <= set(report["final"]["latency_ms"])
    assert report["dataset"] == {
        "name": "digits",
        "train_size": 1347,
        "val_size": 0,
        "test_size": 450,
    }
    assert report["final"]["headline"] == {"name": "top1", "value": report["final"]["top1"]}
    assert [s["kind"] for s in report["stages"]] == ["train", "evaluate", "export", "measure"]
    assert report["stages"][0]["top1"] >= 0.95
    export = report["stages"][2]
    assert export["max_abs_diff"] <= 1e-4 and (out / export["onnx"]).is_file()
    for name in ["recipe.yaml", "metrics.jsonl", "model.slim.pt", "report.md", "loss.png"]:
        assert (out / name).is_file(), name
    assert seconds < 240, f"quickstart took {seconds:.0f}s"

    again = run_cli("report", str(out))
    assert again.returncode == 0, again.stderr
    measured = run_cli("measure", str(out / "model.slim.pt"), "--repeats", "3")
    assert measured.returncode == 0 and "MACs" in measured.stdout


def test_listing_commands() -> None:
    models = run_cli("models")
    assert models.returncode == 0 and "resnet20" in models.stdout and "timm:NAME" in models.stdout
    datasets = run_cli("datasets")
    assert datasets.returncode == 0 and "digits" in datasets.stdout and "cifar10" in datasets.stdout
    bad = run_cli("report", "/nonexistent/run")
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
