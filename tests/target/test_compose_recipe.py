"""recipes/digits_compose_target.yaml: prune -> factorize -> QAT+KD to a MACs target."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml

from slimkit.artifacts import load_artifact
from slimkit.report import validate_report
from tests.helpers import REPO, run_cli, tiny_budget_overrides

RECIPE = REPO / "recipes" / "digits_compose_target.yaml"


def test_unreachable_target_fails_in_one_line_before_training(tmp_path: Path) -> None:
    recipe = yaml.safe_load(RECIPE.read_text())
    recipe["target"] = {"macs": 0.001}
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe))
    start = time.perf_counter()
    proc = run_cli("run", str(path), "--out", str(tmp_path / "run"), "-q")
    assert proc.returncode != 0
    error = [line for line in proc.stderr.splitlines() if line.startswith("slimkit: error")]
    assert len(error) == 1 and "unreachable" in error[0], proc.stderr[-2000:]
    assert (
        time.perf_counter() - start < 60
    )  # planned before any training (whole test 11.7 s measured)


_RELOAD = """
import sys, torch
from slimkit.artifacts import load_artifact
handle = load_artifact(sys.argv[1])
x = torch.load(sys.argv[2])
torch.save(handle.module.eval()(x), sys.argv[3])
"""


@pytest.mark.slow  # ~150 s on 2 cores: CI runs it on its own line
def test_digits_compose_target_recipe(tmp_path: Path) -> None:
    out = tmp_path / "run"
    start = time.perf_counter()
    proc = run_cli("run", str(RECIPE), "--out", str(out), "-q")
    seconds = time.perf_counter() - start
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads((out / "report.json").read_text())
    validate_report(report)
    fraction = report["final"]["macs"] / report["initial"]["macs"]
    assert 0.35 * 0.95 <= fraction <= 0.35, fraction  # measured 0.348
    assert report["final"]["top1"] >= 0.95, report["final"]  # measured 0.956
    sparse = report["stages"][0]
    assert sparse["zero_macs_fraction"] <= 0.35**0.5 * 1.1, sparse  # measured 0.630 for 0.592
    kinds = [s["kind"] for s in report["stages"]]
    assert kinds[:4] == ["train", "prune", "train", "factorize"] and "quantize" in kinds
    assert seconds < 360, f"{seconds:.0f}s"  # 146-155 s alone on 2 cores; slack for loaded CI
    handle = load_artifact(out / "model.slim.pt")
    edit_kinds = [e["kind"] for e in handle.edits]
    for kind in ("prune_channels", "factorize", "quantize"):
        assert kind in edit_kinds, edit_kinds
    assert (
        edit_kinds.index("prune_channels")
        < edit_kinds.index("factorize")
        < edit_kinds.index("quantize")
    )
    x = torch.randn(4, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    torch.save(x, tmp_path / "x.pt")
    with torch.no_grad():
        here = handle.module.eval()(x)
    script = tmp_path / "reload.py"
    script.write_text(_RELOAD)
    subprocess.run(
        [sys.executable, str(script), str(out / "model.slim.pt"), str(tmp_path / "x.pt"),
         str(tmp_path / "y.pt")],
        check=True, cwd=REPO,
    )  # fmt: skip
    there = torch.load(tmp_path / "y.pt")
    assert (here - there).abs().max().item() <= 1e-6
    assert (out / "model.onnx").exists()


@pytest.mark.slow  # 17 s on 2 cores at this budget; latency-sensitive, so on the slow line
def test_cifar10_compose_recipe_meets_its_latency_target(tmp_path: Path, cifar10_root: str) -> None:
    name = "cifar10_resnet20_compose_cpu.yaml"
    recipe = yaml.safe_load((REPO / "recipes" / name).read_text())
    measure = next(i for i, s in enumerate(recipe["stages"]) if s["kind"] == "measure")
    out = tmp_path / "run"
    proc = run_cli(
        "run", str(REPO / "recipes" / name),
        *tiny_budget_overrides(recipe, 1, 20, 10, Path(cifar10_root)),
        f"stages.{measure}.batch_sizes=[1,32]", f"stages.{measure}.repeats=10",
        "--out", str(out), "-q", timeout=1500,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads((out / "report.json").read_text())
    target = report["target"]
    assert target["quantity"] == "latency" and target["batch_size"] == 32
    assert [round(s["share"], 3) for s in target["stages"]] == [0.6, 0.5]
    # acceptance: final ORT batch-32 latency <= 1.1 x half the dense one, the two timed in
    # alternation at the end of the run (target.paired_ms: a CI host that slowed down after the
    # start measured 0.61 against the start's reference before). Measured 0.50-0.52 at this budget
    # (0.43 in the full run, benchmarks/results/compose.md); 0.6 leaves room for noise
    paired = target["paired_ms"]
    assert target["achieved_fraction"] == paired["final"] / paired["dense"]
    assert target["achieved_fraction"] <= 0.6, target
    assert (out / "target_reference.onnx").is_file()
    kinds = [s["kind"] for s in report["stages"]]
    assert kinds == ["train", "prune", "train", "factorize", "train", "export", "measure"]
    assert (out / "model.onnx").exists()
