"""Option-A shortcut semantics, A->B conversion, and loading the stored CIFAR checkpoints."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from slimkit.models import PadShortcut, build_model, shortcut_a_to_b

WEIGHTS = Path(__file__).resolve().parents[3] / "shared" / "weights"


def test_pad_shortcut_puts_channels_in_the_middle() -> None:
    x = torch.arange(2 * 16 * 4 * 4, dtype=torch.float32).reshape(2, 16, 4, 4) + 1.0
    y = PadShortcut(16, 32, stride=2)(x)
    assert y.shape == (2, 32, 2, 2)
    assert torch.equal(y[:, 8:24], x[:, :, ::2, ::2])
    assert torch.count_nonzero(y[:, :8]) == 0 and torch.count_nonzero(y[:, 24:]) == 0


def test_pad_shortcut_odd_difference_and_errors() -> None:
    y = PadShortcut(3, 6, stride=1)(torch.ones(1, 3, 2, 2))
    assert y[0, :, 0, 0].tolist() == [0, 1, 1, 1, 0, 0]
    with pytest.raises(ValueError, match="out_channels=2"):
        PadShortcut(4, 2)


def test_option_a_blocks() -> None:
    model = build_model("resnet20", shortcut="A")
    block = model.layer2[0]
    assert isinstance(block.shortcut, PadShortcut) and block.downsample is None
    assert block.shortcut.pad_before == block.shortcut.pad_after == 8
    assert model.layer3[0].shortcut.pad_before == 16
    assert not any("shortcut" in k or "downsample" in k for k in model.state_dict())


def test_option_a_to_b_is_exact() -> None:
    model_a = build_model("resnet8a_tiny").eval()
    for p in model_a.parameters():  # non-trivial BN statistics and weights
        p.data.normal_()
    model_b = shortcut_a_to_b(model_a)
    assert model_b.shortcut == "B" and model_b.layer2[0].shortcut is None
    assert isinstance(model_b.layer2[0].downsample, torch.nn.Sequential)
    x = torch.randn(3, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(model_b(x), model_a(x), rtol=1e-5, atol=1e-5)
    assert model_a.layer2[0].shortcut is not None  # input untouched
    with pytest.raises(ValueError, match="shortcut 'B'"):
        shortcut_a_to_b(model_b)


@pytest.mark.skipif(not WEIGHTS.is_dir(), reason="../shared/weights not available")
@pytest.mark.parametrize("depth", [20, 56])
def test_akamaster_checkpoint_keys_and_shapes_match_option_a(depth: int) -> None:
    state = torch.load(WEIGHTS / f"akamaster_resnet{depth}_cifar10.pt", weights_only=True)
    state = {k.removeprefix("module.").replace("linear.", "fc."): v for k, v in state.items()}
    model = build_model(f"resnet{depth}", shortcut="A")
    missing, unexpected = model.load_state_dict(state, strict=False)
    assert unexpected == []
    assert all(k.endswith("num_batches_tracked") for k in missing)


@pytest.mark.skipif(not WEIGHTS.is_dir(), reason="../shared/weights not available")
def test_torchpruning_checkpoint_loads_strictly_into_option_b() -> None:
    state = torch.load(WEIGHTS / "torchpruning_resnet56_groupsl_reg_cifar10.pt", weights_only=True)
    build_model("resnet56").load_state_dict(state, strict=True)


def test_a_to_b_is_exact_in_train_mode_too():
    """Without the optional BN the converted shortcut is the same function while training, so
    fine-tuning a converted pretrained model starts from the same network."""
    torch.manual_seed(0)
    model_a = build_model("resnet8a_tiny").train()
    model_b = shortcut_a_to_b(model_a).train()
    x = torch.randn(8, 3, 32, 32)
    assert torch.allclose(model_a(x), model_b(x), atol=1e-5)
    with_bn = shortcut_a_to_b(model_a, bn=True).train()
    assert not torch.allclose(model_a(x), with_bn(x), atol=1e-3)
