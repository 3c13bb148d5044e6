"""The verified CIFAR-10 checkpoints in ``../shared/weights`` load through recipes and reach
their published top-1 (within 0.1 point) on the full test set via slimkit's evaluation path."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from slimkit.models import WeightsMismatchError, build_model, load_weights
from slimkit.pipeline import run_recipe
from slimkit.recipes import load_recipe
from tests.conftest import REPO, SHARED

WEIGHTS = SHARED / "weights"
PUBLISHED = {
    "cifar10_resnet20_akamaster_pretrained": 91.73,
    "cifar10_resnet32_akamaster_pretrained": 92.62,
    "cifar10_resnet44_akamaster_pretrained": 93.11,
    "cifar10_resnet56_akamaster_pretrained": 93.39,
    "cifar10_resnet56_torchpruning_pretrained": 93.56,
}
needs_weights = pytest.mark.skipif(
    not WEIGHTS.is_dir(),
    reason=f"{WEIGHTS} is absent (the shared checkpoints ship beside the repo)",
)


@needs_weights
@pytest.mark.slow  # 40-80 s on 2 cores: CI runs it on its own line
@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_checkpoint_reaches_published_top1(name, cifar10_root, tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)  # the recipes name ../shared/weights relative to the repository
    recipe = load_recipe(REPO / "recipes" / f"{name}.yaml", [f"data.root={cifar10_root}"])
    report = run_recipe(recipe, run_dir=tmp_path / "run", quiet=True, echo=lambda line: None)
    assert report["recipe"]["model"]["weights"]
    assert abs(100 * report["final"]["top1"] - PUBLISHED[name]) <= 0.1


@needs_weights
def test_option_b_checkpoint_into_option_a_model_is_one_line_error():
    model = build_model("resnet56", shortcut="A")
    before = model.fc.weight.clone()
    with pytest.raises(WeightsMismatchError) as err:
        load_weights(model, WEIGHTS / "torchpruning_resnet56_groupsl_reg_cifar10.pt")
    message = str(err.value)
    assert "\n" not in message and "unexpected keys" in message and "downsample" in message
    assert torch.equal(model.fc.weight, before)  # untouched


@needs_weights
def test_wrong_depth_and_classes_are_refused():
    path = WEIGHTS / "akamaster_resnet20_cifar10.pt"
    with pytest.raises(WeightsMismatchError, match="missing keys"):
        load_weights(build_model("resnet32", shortcut="A"), path)
    with pytest.raises(WeightsMismatchError, match=r"'fc.weight' has shape \(10, 64\)"):
        load_weights(build_model("resnet20", shortcut="A", num_classes=100), path)


def test_prefix_alias_and_missing_counters_load(tmp_path):
    source = build_model("resnet8a_tiny")
    state = {
        "module." + k.replace("fc.", "linear."): v
        for k, v in source.state_dict().items()
        if not k.endswith("num_batches_tracked")
    }
    torch.save(state, tmp_path / "w.pt")
    model = build_model("resnet8a_tiny")
    load_weights(model, tmp_path / "w.pt")
    x = torch.randn(2, 3, 32, 32)
    assert torch.equal(model.eval()(x), source.eval()(x))


def test_unreadable_and_missing_files(tmp_path):
    (tmp_path / "bad.pt").write_text("not a checkpoint")
    with pytest.raises(WeightsMismatchError, match="cannot read weights"):
        load_weights(build_model("lenet5"), tmp_path / "bad.pt")
    with pytest.raises(WeightsMismatchError, match="not found"):
        load_weights(build_model("lenet5"), tmp_path / "none.pt")


def test_cli_mismatch_exits_2_with_one_line(tmp_path):
    torch.save(build_model("lenet5").state_dict(), tmp_path / "lenet.pt")
    recipe = tmp_path / "r.yaml"
    recipe.write_text(
        f"name: bad\nmodel: {{name: resnet8_tiny, weights: {tmp_path / 'lenet.pt'}}}\n"
        "data: {name: digits}\nstages:\n  - kind: evaluate\n"
    )
    proc = subprocess.run(
        [sys.executable, "-m", "slimkit", "run", str(recipe), "--out", str(tmp_path / "o"), "-q"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert lines[-1].startswith("slimkit: error: weights") and "do not fit" in lines[-1]
