"""Forward shapes of every registered model, and explicit widths."""

from __future__ import annotations

import pytest
import torch

from slimkit.models import build_model, list_models

# Every tiny variant (each family's code path) plus a few cheap full-size models; the others are
# only built (their parameter counts are checked in test_param_counts.py) to keep this fast.
_FORWARD = [n for n in list_models() if n.endswith("_tiny")] + [
    "lenet5",
    "resnet20",
    "vgg11",
    "wrn16_2",
    "hafidaf_mini",
    "swin_mini",
    "vit_tiny_digits",
]


# detector and segmenter heads: their forward contracts are tested in tests/tasks/
_DENSE_HEADS = {"fcos", "seg_lraspp"}


def test_forward_list_covers_every_family() -> None:
    assert {type(build_model(n)).__name__ for n in _FORWARD} == {
        type(build_model(n)).__name__
        for n in list_models()
        if n not in {"wrn", "wrn28_10"} | _DENSE_HEADS
    }


@pytest.mark.parametrize("name", _FORWARD)
def test_forward_shape(name: str) -> None:
    model = build_model(name, num_classes=7).eval()
    with torch.no_grad():
        out = model(torch.randn(2, 3, 32, 32))
    assert out.shape == (2, 7)
    assert torch.isfinite(out).all()


def test_generic_wrn_kwargs() -> None:
    model = build_model("wrn", depth=10, widen_factor=2, dropout=0.3).eval()
    assert model.widths == [32, 64, 128]
    assert len(model.layer1) == 1
    assert model.layer1[0].dropout.p == 0.3
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 10)


@pytest.mark.parametrize("name", [n for n in list_models() if n.endswith("_tiny")] + ["lenet5"])
def test_in_channels(name: str) -> None:
    model = build_model(name, num_classes=4, in_channels=1).eval()
    assert model(torch.randn(2, 1, 32, 32)).shape == (2, 4)


def test_tiny_variants_are_small() -> None:
    for name in list_models():
        if name.endswith("_tiny"):
            assert sum(p.numel() for p in build_model(name).parameters()) < 30_000, name


def test_resnet_attribute_names_and_mid_widths() -> None:
    model = build_model("resnet8_tiny", mid_widths=[3, 5, 7])
    assert [model.layer1[0].conv1.out_channels, model.layer2[0].conv1.out_channels] == [3, 5]
    assert model.layer3[0].bn1.num_features == 7
    assert model.layer3[0].conv2.in_channels == 7
    names = {n for n, _ in model.named_children()}
    assert {"conv1", "bn1", "layer1", "layer2", "layer3", "fc"} <= names
    assert isinstance(model.fc, torch.nn.Linear)
    block = model.layer2[0]
    assert isinstance(block.downsample, torch.nn.Sequential)
    assert block.downsample[0].kernel_size == (1, 1) and block.downsample[0].stride == (2, 2)
    assert model.layer1[0].downsample is None
    assert model(torch.randn(1, 3, 32, 32)).shape == (1, 10)


def test_explicit_widths_everywhere() -> None:
    x = torch.randn(1, 3, 32, 32)
    vgg = build_model("vgg_tiny", cfg=[5, "M", 6, "M", 7])
    assert vgg.classifier.in_features == 7 and vgg(x).shape == (1, 10)

    dense = build_model(
        "densenet_bc_tiny",
        growth_rates=[1, 2, 3, 4, 5, 6],
        bottleneck_widths=[3] * 6,
        transition_widths=[5, 9],
    )
    assert dense.block1[1].conv2.out_channels == 2
    assert dense.block1[0].conv1.out_channels == 3
    assert dense.trans2.conv.out_channels == 9
    assert dense.fc.in_features == 9 + 5 + 6  # last transition + growths of block 3
    assert dense(x).shape == (1, 10)

    pre = build_model("resnet_bottleneck_tiny", mid_widths=[(2, 3), (4, 5), (6, 7)])
    assert pre.layer3[0].conv2.out_channels == 7 and pre.layer3[0].conv3.in_channels == 7
    assert pre(x).shape == (1, 10)

    wide = build_model("wrn_tiny", widths=[4, 6, 8], mid_widths=[3, 3, 3], stem_width=2)
    assert wide.fc.in_features == 8 and wide(x).shape == (1, 10)

    lenet = build_model("lenet5", conv_widths=(3, 4), hidden_widths=(11, 12))
    assert lenet.fc1.in_features == 4 * 25 and lenet.fc3.in_features == 12
    assert lenet(x).shape == (1, 10)


@pytest.mark.parametrize(
    ("name", "kwargs", "field"),
    [
        ("resnet8_tiny", {"mid_widths": [1, 2]}, "mid_widths"),
        ("resnet8_tiny", {"shortcut": "C"}, "shortcut"),
        ("densenet_tiny", {"growth_rates": [1]}, "growth_rates"),
        ("wrn", {"depth": 11}, "depth"),
        ("vgg_tiny", {"cfg": [8, "M"]}, "cfg"),
        ("resnet_bottleneck_tiny", {"mid_widths": [(1, 2)]}, "mid_widths"),
    ],
)
def test_bad_widths_are_one_line_errors(name: str, kwargs: dict, field: str) -> None:
    with pytest.raises(ValueError, match=field) as info:
        build_model(name, **kwargs)
    assert "\n" not in str(info.value)
    assert str(info.value).startswith(f"model {name!r}: ")


def test_init_kaiming_and_bn() -> None:
    model = build_model("resnet20")
    assert torch.all(model.bn1.weight == 1) and torch.all(model.bn1.bias == 0)
    w = model.layer3[1].conv1.weight  # fan_out = 64 * 9 -> std = sqrt(2 / 576)
    assert abs(w.std().item() - (2 / 576) ** 0.5) < 0.1 * (2 / 576) ** 0.5
