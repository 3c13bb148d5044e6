from __future__ import annotations

from torch import nn

from slimkit.measure import count_params


def test_single_layers_match_hand_counts() -> None:
    assert count_params(nn.Linear(10, 4)) == 10 * 4 + 4
    assert count_params(nn.Conv2d(3, 8, 3, bias=False)) == 8 * 3 * 3 * 3
    assert count_params(nn.Conv2d(8, 8, 3, groups=8)) == 8 * 1 * 3 * 3 + 8
    assert count_params(nn.BatchNorm2d(8)) == 16  # weight + bias; running stats are buffers
    assert count_params(nn.ReLU()) == 0


def test_tiny_net_hand_count(tiny_net_cls: type[nn.Module]) -> None:
    expected = (
        8 * 3 * 9  # stem conv
        + 16  # stem BN
        + 8 * 8 * 9  # body conv
        + 16  # body BN
        + 4 * 8
        + 4  # branch 1x1 conv + bias
        + 12 * 9
        + 12  # depthwise conv + bias
        + 12 * 5
        + 5  # fc
    )
    assert count_params(tiny_net_cls()) == expected


def test_shared_parameters_count_once_and_trainable_only() -> None:
    lin = nn.Linear(6, 6)
    net = nn.Sequential(lin, nn.ReLU(), lin, nn.Linear(6, 2))
    assert count_params(net) == 42 + 14
    net[3].weight.requires_grad_(False)
    assert count_params(net, trainable_only=True) == 42 + 2
