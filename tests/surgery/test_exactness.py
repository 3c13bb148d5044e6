"""Removing masked channels (gamma = beta = 0 in every coupled BN) changes no output."""

from __future__ import annotations

import pytest
import torch

from slimkit.models import build_model
from tests.surgery.common import mask_and_prune, randomize_bn

FAMILIES = [
    "resnet8_tiny",
    "resnet_bottleneck_tiny",
    "vgg_tiny",
    "densenet_tiny",
    "densenet_bc_tiny",
    "wrn_tiny",
    "resnet20",
    "tv:resnet18",
    "tv:mobilenet_v2",
    "tv:densenet121",
    "timm:resnet18",
]


@pytest.mark.parametrize("name", FAMILIES)
def test_masked_channels_are_removed_exactly(name: str) -> None:
    torch.manual_seed(0)
    model = randomize_bn(build_model(name, num_classes=10))
    x = torch.randn(2, 3, 32, 32)
    out = mask_and_prune(model, x)
    assert len(out["removal"]) >= 3, "several groups must be narrowed"
    assert out["scale"] > 1e-2, "outputs must not be trivially zero"
    assert out["diff"] <= 1e-5
    before, after = out["params"]
    assert after < before
    assert out["same_classes"]
    # Every BN layer still agrees with the conv feeding it, and the model runs on a new batch.
    assert out["model"](torch.randn(1, 3, 32, 32)).shape == (1, 10)


def test_pruned_mask_changes_output_when_not_masked() -> None:
    """Control: the same removal without masking does change the output (the test can fail)."""
    from slimkit.surgery import channel_groups, prune_channels
    from tests.surgery.common import random_removal

    model = randomize_bn(build_model("resnet8_tiny")).eval()
    x = torch.randn(2, 3, 32, 32)
    removal = random_removal(channel_groups(model, x))
    with torch.no_grad():
        before = model(x)
        after = prune_channels(model, removal, x)(x)
    assert float((before - after).abs().max()) > 1e-3


def test_timm_and_torchvision_width_attributes_are_true() -> None:
    x = torch.randn(2, 3, 32, 32)
    timm_model = randomize_bn(build_model("timm:resnet18"))
    out = mask_and_prune(timm_model, x)
    model = out["model"]
    assert model.num_features == model.fc.in_features < 512
    channels = {info["module"]: info["num_chs"] for info in model.feature_info}
    assert channels["act1"] == model.bn1.num_features < 64
    assert channels["layer4"] == model.num_features
    tv = mask_and_prune(randomize_bn(build_model("tv:mobilenet_v2")), x)["model"]
    assert tv.last_channel == tv.classifier[-1].in_features < 1280


def test_zoo_width_arguments_rebuild_the_pruned_shapes() -> None:
    x = torch.randn(2, 3, 32, 32)
    for name in ("resnet8_tiny", "densenet_bc_tiny", "vgg_tiny", "wrn_tiny"):
        pruned = mask_and_prune(randomize_bn(build_model(name)), x)["model"]
        cls = type(pruned)
        kwargs = {
            "resnet8_tiny": lambda m: {
                "num_blocks": m.num_blocks,
                "widths": m.widths,
                "mid_widths": m.mid_widths,
            },
            "densenet_bc_tiny": lambda m: {
                "block_layers": m.block_layers,
                "stem_width": m.stem_width,
                "bottleneck": True,
                "growth_rates": m.growth_rates,
                "bottleneck_widths": m.bottleneck_widths,
                "transition_widths": m.transition_widths,
            },
            "vgg_tiny": lambda m: {"cfg": m.cfg},
            "wrn_tiny": lambda m: {
                "depth": m.depth,
                "widen_factor": 1,
                "widths": m.widths,
                "stem_width": m.stem_width,
                "mid_widths": m.mid_widths,
            },
        }[name](pruned)
        rebuilt = cls(**kwargs)
        shapes = {k: v.shape for k, v in pruned.state_dict().items()}
        assert shapes == {k: v.shape for k, v in rebuilt.state_dict().items()}, name


def test_pruned_models_export_to_onnx(tmp_path) -> None:
    from slimkit.measure import export_onnx

    x = torch.randn(2, 3, 32, 32)
    for name in ("resnet_bottleneck_tiny", "densenet_tiny"):
        pruned = mask_and_prune(randomize_bn(build_model(name)), x)["model"]
        result = export_onnx(pruned, tmp_path / f"{name}.onnx", (3, 32, 32))
        assert result.max_rel_diff < 1e-4, name
