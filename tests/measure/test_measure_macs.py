from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from slimkit.measure import count_macs, macs_by_module


def _out(size: int, k: int, s: int, p: int, d: int = 1) -> int:
    return (size + 2 * p - d * (k - 1) - 1) // s + 1


@pytest.mark.parametrize(
    ("cin", "cout", "k", "stride", "pad", "groups", "dil", "hw"),
    [
        (3, 16, 3, 1, 1, 1, 1, (32, 32)),  # plain
        (16, 32, 3, 2, 1, 1, 1, (32, 32)),  # strided
        (16, 32, 3, 1, 0, 4, 1, (15, 20)),  # grouped, non-square, no padding
        (24, 24, 5, 2, 2, 24, 1, (17, 17)),  # depthwise, odd size
        (8, 8, 3, 1, 2, 1, 2, (12, 12)),  # dilated
        (8, 12, 1, 1, 0, 1, 1, (7, 9)),  # pointwise
    ],
)
def test_conv2d_closed_form(
    cin: int, cout: int, k: int, stride: int, pad: int, groups: int, dil: int, hw: tuple[int, int]
) -> None:
    conv = nn.Conv2d(cin, cout, k, stride=stride, padding=pad, groups=groups, dilation=dil)
    h, w = hw
    expected = (
        cout * (cin // groups) * k * k * _out(h, k, stride, pad, dil) * _out(w, k, stride, pad, dil)
    )
    assert count_macs(conv, (cin, h, w)) == expected


def test_linear_closed_form() -> None:
    net = nn.Sequential(nn.Flatten(), nn.Linear(3 * 4 * 5, 7))
    assert count_macs(net, (3, 4, 5)) == 60 * 7
    # Linear on the last axis of a 4-d input: one (W -> 6) product per (C, H) position.
    assert count_macs(nn.Linear(5, 6), (3, 4, 5)) == 3 * 4 * 5 * 6


def test_sequential_is_sum_of_layers() -> None:
    net = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1),  # 8*3*9 * 16*16
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.Conv2d(8, 16, 3, stride=2, padding=1),  # 16*8*9 * 8*8
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(16, 10),  # 160
    )
    expected = 8 * 3 * 9 * 256 + 16 * 8 * 9 * 64 + 160
    assert count_macs(net, (3, 16, 16)) == expected
    assert macs_by_module(net, (3, 16, 16)) == {
        "0": 8 * 3 * 9 * 256,
        "3": 16 * 8 * 9 * 64,
        "6": 160,
    }


def test_batch_size_invariance(tiny_net: nn.Module) -> None:
    net = tiny_net
    assert count_macs(net, (3, 16, 16), batch_size=1) == count_macs(net, (3, 16, 16), batch_size=6)


def test_macs_by_module_sums_to_total_with_closed_forms(tiny_net: nn.Module) -> None:
    net = tiny_net
    per = macs_by_module(net, (3, 16, 16))
    assert per == {
        "stem.0": 8 * 3 * 9 * 256,
        "body.0": 8 * 8 * 9 * 256,
        "branch": 4 * 8 * 256,
        "dw": 12 * 9 * 4 * 4,
        "fc": 12 * 5,
    }
    assert sum(per.values()) == count_macs(net, (3, 16, 16))


def test_inline_ops_go_to_the_enclosing_module() -> None:
    class Inline(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.proj = nn.Linear(4, 4)
            self.w = nn.Parameter(torch.randn(3, 4))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            x = torch.flatten(x, 2)  # (N, C=2, 4)
            return F.linear(self.proj(x), self.w)  # inline (N, 2, 4) @ (4, 3)

    per = macs_by_module(Inline(), (2, 2, 2))
    assert per == {"proj": 2 * 4 * 4, "": 2 * 4 * 3}
    assert sum(per.values()) == count_macs(Inline(), (2, 2, 2))


def test_counting_keeps_modes_and_bn_stats(tiny_net: nn.Module) -> None:
    net = tiny_net
    net.train()
    net.stem[1].eval()  # a mixed state (frozen BN) must survive
    before = {k: v.clone() for k, v in net.state_dict().items()}
    count_macs(net, (3, 8, 8), batch_size=4)
    macs_by_module(net, (3, 8, 8))
    assert net.training and net.body[1].training and not net.stem[1].training
    after = net.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


@pytest.mark.parametrize("bad", [(3, 32), (3, 0, 32), [3, 32, "32"], 32])
def test_bad_input_size(bad: object) -> None:
    with pytest.raises(ValueError, match="input_size"):
        count_macs(nn.Conv2d(3, 4, 3), bad)  # type: ignore[arg-type]
