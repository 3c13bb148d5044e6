"""End to end: the eye-openness recipes (CEW + rendered eyes), and `slimkit predict` on the run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from slimkit.pipeline import run_recipe
from slimkit.recipes import load_recipe
from slimkit.report import validate_report
from tests.conftest import SHARED
from tests.helpers import REPO, run_cli

pytestmark = pytest.mark.skipif(
    not (SHARED / "data" / "cew_eyes" / "cew_eyes.npz").is_file(),
    reason="CEW eye patches unavailable",
)
NAMES = ["auc_cew", "acc_cew", "mae_synthetic", "spearman_synthetic", "monotonicity"]
# a few hundred rendered eyes beside CEW, a small sweep
TINY_DATA = ["data.kwargs.synthetic=500", "data.kwargs.synthetic_test=100",
             "data.kwargs.sweep_identities=5"]  # fmt: skip


def _tiny_measure(stage: int) -> list[str]:
    return [f"stages.{stage}.repeats=1", f"stages.{stage}.batch_sizes=[1]"]


def _run(name: str, out: Path, overrides: list[str]) -> dict:
    recipe = load_recipe(
        REPO / "recipes" / name,
        ["runtime.quiet=true", f"data.root={SHARED / 'data'}", *overrides],
    )
    run_recipe(recipe, out, echo=lambda line: None)
    report = json.loads((out / "report.json").read_text())
    validate_report(report)
    return report


@pytest.mark.slow  # about 35 s on 2 quiet cores (29 s in the run)
def test_eye_quick_recipe_and_predict(tmp_path: Path) -> None:
    out = tmp_path / "run"
    report = _run("eye_quick.yaml", out, [])
    metrics = report["final"]["metrics"]
    assert report["final"]["headline"]["name"] == "auc_cew" and set(NAMES) <= set(metrics)
    # measured (2026-12-03, 4 epochs): auc_cew 0.978, acc_cew 0.925, mae_synthetic 0.074,
    # spearman_synthetic 0.945, monotonicity 0.988; 29 s
    assert report["total_seconds"] < 90
    assert metrics["auc_cew"] >= 0.95 and metrics["acc_cew"] >= 0.88
    assert metrics["mae_synthetic"] <= 0.1 and metrics["monotonicity"] >= 0.95
    assert report["stages"][-1]["max_abs_diff"] <= 1e-4  # measured 3.3e-7
    # three CEW test patches through `slimkit predict`: closed ones score below open ones
    z = np.load(SHARED / "data" / "cew_eyes" / "cew_eyes.npz")
    closed = np.flatnonzero(z["y_test"] == 0)[:2]
    opened = np.flatnonzero(z["y_test"] == 1)[:1]
    paths = []
    for i in [*closed, *opened]:
        path = tmp_path / f"eye{i}.png"
        Image.fromarray(z["x_test"][i].reshape(24, 24)).save(path)
        paths.append(str(path))
    sheet = tmp_path / "gallery.png"
    for extra in (["--gallery", str(sheet)], ["--onnx"]):
        proc = run_cli("predict", str(out), *paths, "--json", *extra, timeout=300)
        assert proc.returncode == 0, proc.stderr
        scores = [json.loads(line)["openness"] for line in proc.stdout.splitlines()]
        assert len(scores) == 3 and all(0.0 <= s <= 1.0 for s in scores)
        assert max(scores[:2]) < scores[2]
    with Image.open(sheet) as im:
        assert im.size == (8 * 72, 72 + 14)  # one row of 72-pixel tiles, captions below


@pytest.mark.slow  # about 40 s: two epochs of CEW + 500 rendered eyes
def test_eye_openness_cpu_recipe_at_a_tiny_budget(tmp_path: Path) -> None:
    report = _run(
        "eye_openness_cpu.yaml",
        tmp_path / "run",
        ["stages.0.epochs=2", *TINY_DATA, *_tiny_measure(2)],
    )
    metrics = report["final"]["metrics"]
    assert set(NAMES) <= set(metrics) and metrics["auc_cew"] > 0.7  # measured 0.803
    # threshold: val -> picked on the validation split (0.5 is the uncalibrated fallback)
    assert 0 < metrics["threshold_cew"] < 1 and metrics["threshold_cew"] != 0.5, metrics
    assert report["final"]["params"] > 0 and report["stages"][1]["max_abs_diff"] <= 1e-4


@pytest.mark.slow  # about 45 s: CEW + 500 rendered eyes, 3 + 2 + 1 epochs
def test_eye_openness_slim_int8_recipe_at_a_tiny_budget(tmp_path: Path) -> None:
    report = _run(
        "eye_openness_slim_int8.yaml",
        tmp_path / "run",
        ["stages.0.epochs=3", "stages.2.epochs=2", *TINY_DATA, *_tiny_measure(6)],
    )
    # measured: 1.69 M of 5.72 M MACs, 41 s; int8 auc_cew 0.915 alone but 0.797 / 0.816 when run
    # after the other eye recipes in one process (not bit-reproducible there; cause not found)
    prune = report["stages"][1]
    assert prune["macs_after"] / report["initial"]["macs"] <= 0.33  # the 0.3 target (3x fewer)
    export = report["stages"][5]
    assert export["qdq_nodes"] > 0 and "ort_int8_bs1" in export["latency_ms"]
    assert report["final"]["metrics"]["auc_cew"] > 0.7 and report["final"]["macs"] < 2_000_000
