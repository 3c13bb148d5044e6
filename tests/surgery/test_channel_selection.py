"""Network Slimming's channel selection: every BN channel of a pre-activation network is
prunable, removal of zero-scale channels is exact, exports to ONNX and replays from an artifact."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import torch
from torch import nn

from slimkit.artifacts import SlimModel, load_artifact, save_artifact
from slimkit.measure.onnx_export import export_onnx
from slimkit.models import build_model
from slimkit.surgery import channel_groups, mask_channels, prune_channels, select_channels
from slimkit.surgery.contract import randomize_batchnorms
from slimkit.surgery.selection import ChannelSelect
from tests.helpers import REPO, run_recipe_tiny

X = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))


def _bn_channels(model: nn.Module) -> int:
    return sum(m.num_features for m in model.modules() if isinstance(m, nn.BatchNorm2d))


def _prunable(model: nn.Module, selection: bool) -> int:
    return sum(g.size for g in channel_groups(model, X, selection=selection))


# Without selection (measured): resnet164 4,288 of 12,112, densenet40 912 of 9,048.
@pytest.mark.parametrize(
    ("name", "without"),
    [
        ("resnet_bottleneck_tiny", 120),
        ("densenet_tiny", 72),
        ("densenet_bc_tiny", 144),
        ("resnet164", 4288),
        ("densenet40", 912),
    ],
)
def test_every_bn_channel_is_prunable_with_selection(name: str, without: int) -> None:
    model = build_model(name).eval()
    assert _prunable(model, selection=False) == without
    assert _prunable(model, selection=True) == _bn_channels(model)


def _pruned(name: str, seed: int = 0) -> tuple[nn.Module, nn.Module, dict]:
    model = build_model(name).eval()
    randomize_batchnorms(model, 0.3, seed)
    groups = channel_groups(model, X, selection=True)
    removal = select_channels(groups, "zeros")
    return model, prune_channels(copy.deepcopy(model), removal, X), removal


@pytest.mark.parametrize(
    "name",
    ["resnet_bottleneck_tiny", "densenet_tiny", "densenet_bc_tiny", "resnet164", "densenet40"],
)
def test_zero_scale_selection_is_exact_and_exports(name: str, tmp_path) -> None:
    model, pruned, removal = _pruned(name)
    assert any(isinstance(m, ChannelSelect) for m in pruned.modules())
    reference = model(X)
    change = (pruned(X) - reference).abs().max() / reference.abs().max()
    assert float(change) <= 1e-5  # measured 1e-7 to 3e-7
    exported = export_onnx(pruned, tmp_path / "m.onnx", (3, 32, 32))
    assert exported.max_rel_diff <= 1e-4  # measured 1e-7 to 4e-7


def test_selection_prunes_again_and_replays_from_an_artifact(tmp_path) -> None:
    handle = SlimModel.build("densenet_bc_tiny", num_classes=10, input_size=(3, 32, 32))
    randomize_batchnorms(handle.module.eval(), 0.3, 1)
    groups = channel_groups(handle.module, X, selection=True)
    handle.apply_edit(
        "prune_channels", removal=select_channels(groups, "zeros"), input_size=[3, 32, 32]
    )
    # Second pass: the ChannelSelect layers are roots now; a percentile removes more.
    groups = channel_groups(handle.module, X, selection=True)
    assert {g.root for g in groups} >= {
        n for n, m in handle.module.named_modules() if isinstance(m, ChannelSelect)
    }
    removal = select_channels(groups, "threshold", percent=0.2)
    mask_channels(handle.module, removal, groups=groups)
    masked = handle.module(X)
    handle.apply_edit("prune_channels", removal=removal, input_size=[3, 32, 32])
    out = handle.module(X)
    assert float((out - masked).abs().max() / masked.abs().max()) <= 1e-5
    save_artifact(handle, tmp_path / "m.slim.pt")
    loaded = load_artifact(tmp_path / "m.slim.pt").module.eval()
    assert torch.allclose(loaded(X), out, atol=1e-6, rtol=1e-6)


PAPER_RECIPES = sorted(
    p.name
    for pattern in ("cifar10_resnet164_*.yaml", "cifar10_densenet40_*.yaml")
    for p in (REPO / "recipes").glob(pattern)
)


@pytest.mark.slow
@pytest.mark.parametrize("name", PAPER_RECIPES)
def test_paper_recipes_prune_every_bn_channel(name: str, tmp_path, cifar10_root: str) -> None:
    report = run_recipe_tiny(name, tmp_path / "run", (1, 10, 10), Path(cifar10_root))
    prune = next(s for s in report["stages"] if s["kind"] == "prune")
    total = 12112 if "resnet164" in name else 9048  # every BN channel of the model
    assert prune["channels_before"] == total
    if prune["rule"] == "threshold":  # the paper's percentile over every BN channel
        assert prune["channels_removed"] >= int(total * 0.4)
    assert prune["params_after"] <= prune["params_before"]
