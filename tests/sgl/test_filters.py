"""Filter surgery (rule ``zero_filters``): exact removal of all-zero filters through the graph."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from slimkit.models import build_model
from slimkit.surgery import (
    filter_groups,
    mask_filters,
    prune_channels,
    select_zero_filters,
    weight_zeros,
)


def _lenet() -> nn.Module:
    torch.manual_seed(0)
    model = build_model("lenet5", in_channels=1).eval()
    with torch.no_grad():  # nonzero biases: a zero filter still outputs relu(bias) until masked
        for m in model.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                m.bias.uniform_(0.1, 0.5)
    return model


def test_zero_conv_filters_removed_exactly_and_next_layer_shrinks() -> None:
    model, x = _lenet(), torch.randn(4, 1, 32, 32)
    with torch.no_grad():
        model.conv2.weight[[1, 4, 9]] = 0.0
        model.conv2.weight[0, 0, 0, 0] = 0.0  # an element-wise zero: stays, counted
    groups = filter_groups(model, x)
    removal = select_zero_filters(model, groups)
    assert removal == {"conv2": [1, 4, 9]}
    unmasked = model(x)
    mask_filters(model, removal, groups)
    masked = model(x)
    assert (masked - unmasked).abs().max() > 1e-3  # the biases mattered before masking
    prune_channels(model, removal, x)
    assert (model(x) - masked).abs().max() <= 1e-5
    assert model.conv2.out_channels == 13
    assert model.fc1.in_features == 13 * 25  # next layer's input channels shrink (through flatten)
    assert weight_zeros(model)["conv2"][0] == 1


def test_zero_reader_columns_remove_the_unit_feeding_them() -> None:
    model, x = _lenet(), torch.randn(4, 1, 32, 32)
    with torch.no_grad():
        model.fc2.weight[:, [0, 7]] = 0.0  # input-unit groups of fc2 at 0: fc1 units 0, 7 unread
        model.fc1.weight[3] = 0.0  # fc1's filter 3 at 0: output relu(bias) until masked
    groups = filter_groups(model, x)
    removal = select_zero_filters(model, groups)
    assert removal == {"fc1": [0, 3, 7]}
    mask_filters(model, removal, groups)
    masked = model(x)
    prune_channels(model, removal, x)
    assert (model(x) - masked).abs().max() <= 1e-5
    assert model.fc1.out_features == 117 and model.fc2.in_features == 117


def test_bn_model_zero_filters_exact_after_masking() -> None:
    torch.manual_seed(1)
    model, x = build_model("vgg_tiny"), torch.randn(4, 3, 32, 32)
    model.train()
    for _ in range(3):  # nontrivial BN running statistics
        model(torch.randn(8, 3, 32, 32))
    model.eval()
    with torch.no_grad():
        model.features[4].weight[[0, 5]] = 0.0
    groups = filter_groups(model, x)
    removal = select_zero_filters(model, groups)
    assert removal == {"features.4": [0, 5]}
    mask_filters(model, removal, groups)
    assert model.features[5].weight[[0, 5]].abs().sum() == 0  # BN γ, β zeroed (exactness)
    masked = model(x)
    prune_channels(model, removal, x)
    assert (model(x) - masked).abs().max() <= 1e-5
    assert model.features[4].out_channels == 14 and model.features[8].in_channels == 14


def test_no_zero_filters_nothing_removed_and_guard_keeps_one() -> None:
    model, x = _lenet(), torch.randn(2, 1, 32, 32)
    assert select_zero_filters(model, filter_groups(model, x)) == {}
    with torch.no_grad():
        model.conv2.weight.zero_()
    removal = select_zero_filters(model, filter_groups(model, x), min_channels=2)
    # conv1's channels are now read by nobody (conv2's input slices are 0): they go too
    assert removal == {"conv1": [2, 3, 4, 5], "conv2": list(range(2, 16))}
    with pytest.raises(ValueError, match="min_channels"):
        select_zero_filters(model, filter_groups(model, x), min_channels=0)


def test_mask_unknown_root_names_nearest() -> None:
    model, x = _lenet(), torch.randn(2, 1, 32, 32)
    with pytest.raises(ValueError, match="did you mean 'conv2'"):
        mask_filters(model, {"conv3": [0]}, filter_groups(model, x))


def test_round_to_keeps_a_multiple_of_filters() -> None:
    model, x = _lenet(), torch.randn(2, 1, 32, 32)
    with torch.no_grad():
        model.conv2.weight[[1, 4, 9, 11, 12]] = 0.0  # 5 of 16 filters at 0
    groups = filter_groups(model, x)
    assert select_zero_filters(model, groups, round_to=4) == {"conv2": [4, 9, 11, 12]}
    assert select_zero_filters(model, groups, round_to=8) == {}  # 11 kept rounds up to 16
    with pytest.raises(ValueError, match="round_to=0"):
        select_zero_filters(model, groups, round_to=0)
