"""Artifacts record channel surgery as plain data and replay it on a rebuilt model."""

from __future__ import annotations

from pathlib import Path

import torch

import slimkit.surgery  # noqa: F401  (registers the edits)
from slimkit.artifacts import SlimModel, load_artifact, save_artifact
from slimkit.surgery import channel_groups, mask_channels, select_channels
from tests.surgery.common import randomize_bn


def test_pruned_artifact_replays_to_identical_outputs(tmp_path: Path) -> None:
    handle = SlimModel.build("densenet_bc_tiny", num_classes=10, input_size=(3, 32, 32))
    model = randomize_bn(handle.module).eval()
    x = torch.randn(2, 3, 32, 32)
    groups = channel_groups(model, x)
    removal = select_channels(groups, "threshold", percent=0.4)
    mask_channels(model, removal, groups=groups)
    with torch.no_grad():
        masked = model(x)
    handle.apply_edit("prune_channels", removal=removal, input_size=list(handle.input_size))
    with torch.no_grad():
        pruned = handle.module(x)
    assert float((masked - pruned).abs().max()) <= 1e-5
    save_artifact(handle, tmp_path / "m.slim.pt")
    loaded = load_artifact(tmp_path / "m.slim.pt")
    assert loaded.edits == handle.edits
    with torch.no_grad():
        assert torch.equal(loaded.module.eval()(x), pruned)
    assert loaded.module.growth_rates == handle.module.growth_rates


def test_option_a_conversion_then_pruning_replays(tmp_path: Path) -> None:
    handle = SlimModel.build("resnet8a_tiny", num_classes=10, input_size=(3, 32, 32))
    handle.apply_edit("shortcut_a_to_b")
    x = torch.randn(2, 3, 32, 32)
    removal = select_channels(channel_groups(handle.module, x), "threshold", percent=0.5)
    handle.apply_edit("prune_channels", removal=removal, input_size=[3, 32, 32])
    save_artifact(handle, tmp_path / "a.slim.pt")
    loaded = load_artifact(tmp_path / "a.slim.pt")
    with torch.no_grad():
        assert torch.equal(loaded.module.eval()(x), handle.module.eval()(x))
