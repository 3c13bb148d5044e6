"""Registry behaviour, error messages and the tv:/timm: adapters."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from slimkit.models import UnknownModelError, build_model, list_models, register_model
from slimkit.models.registry import _REGISTRY

EXPECTED_NAMES = {
    "resnet20", "resnet32", "resnet44", "resnet56", "resnet110", "resnet164",
    "vgg11", "vgg13", "vgg16", "vgg19", "densenet40", "densenet_bc100",
    "wrn", "wrn16_2", "wrn16_4", "wrn28_10", "lenet5",
    "resnet8_tiny", "resnet8a_tiny", "resnet_bottleneck_tiny", "vgg_tiny",
    "densenet_tiny", "densenet_bc_tiny", "wrn_tiny",
}  # fmt: skip


def test_list_models_contents() -> None:
    models = list_models()
    assert set(models) >= EXPECTED_NAMES
    assert all(isinstance(d, str) and d and "\n" not in d for d in models.values())


def test_unknown_model_suggestion() -> None:
    with pytest.raises(UnknownModelError) as info:
        build_model("resnt20")
    assert str(info.value) == (
        "unknown model 'resnt20'; did you mean 'resnet20'? (run `slimkit models`)"
    )
    assert isinstance(info.value, ValueError)


def test_unknown_model_without_match() -> None:
    with pytest.raises(UnknownModelError, match="unknown model 'zzzzqqq'"):
        build_model("zzzzqqq")


def test_unknown_prefix() -> None:
    with pytest.raises(UnknownModelError, match="prefix 'hf'"):
        build_model("hf:resnet18")


def test_bad_kwarg_is_one_line_value_error() -> None:
    with pytest.raises(ValueError) as info:
        build_model("resnet20", shortcutt="A")
    msg = str(info.value)
    assert "\n" not in msg
    assert "'resnet20'" in msg and "'shortcutt'" in msg and "did you mean 'shortcut'" in msg
    assert "mid_widths" in msg  # lists the allowed arguments
    assert not isinstance(info.value, UnknownModelError)


def test_fixed_kwarg_is_value_error() -> None:
    with pytest.raises(ValueError, match="fixes argument 'depth'"):
        build_model("wrn16_2", depth=28)


def test_internal_type_error_is_not_masked() -> None:
    @register_model("_test_broken_builder")
    def _broken(num_classes: int = 10, in_channels: int = 3) -> nn.Module:
        return nn.Linear("a", num_classes)  # type: ignore[arg-type]

    try:
        with pytest.raises(TypeError):
            build_model("_test_broken_builder")
    finally:
        del _REGISTRY["_test_broken_builder"]


def test_register_model_duplicate_and_invalid() -> None:
    with pytest.raises(ValueError, match="already registered"):
        register_model("resnet20")(lambda **_: nn.Identity())
    with pytest.raises(ValueError, match="invalid"):
        register_model("tv:thing")


@pytest.mark.parametrize("name", ["tv:resnet18", "tv:mobilenet_v2", "timm:resnet18"])
def test_external_adapters(name: str) -> None:
    model = build_model(name, num_classes=10).eval()
    with torch.no_grad():
        assert model(torch.randn(1, 3, 32, 32)).shape == (1, 10)


def test_timm_in_channels() -> None:
    model = build_model("timm:resnet18", num_classes=3, in_channels=1).eval()
    assert model.conv1.in_channels == 1
    assert model(torch.randn(1, 1, 32, 32)).shape == (1, 3)


def test_external_unknown_names() -> None:
    with pytest.raises(UnknownModelError, match="did you mean 'tv:resnet18'"):
        build_model("tv:resnet1")
    with pytest.raises(UnknownModelError, match="did you mean 'timm:resnet18'"):
        build_model("timm:resnet18x")


def test_external_bad_kwarg_and_channels() -> None:
    with pytest.raises(ValueError, match="in_channels=1") as info:
        build_model("tv:resnet18", in_channels=1)
    assert "\n" not in str(info.value)
    with pytest.raises(ValueError, match="'bogus_arg'") as info:
        build_model("tv:resnet18", bogus_arg=1)
    assert "\n" not in str(info.value)
