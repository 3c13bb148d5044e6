"""Small self-defined networks shared by the measurement tests."""

from __future__ import annotations

import pytest
import torch
from torch import nn


class TinyResCatNet(nn.Module):
    """Conv-BN-ReLU stem, a residual add, a channel concat, average pooling and a linear head."""

    def __init__(self, num_classes: int = 5) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8))
        self.relu = nn.ReLU()
        self.body = nn.Sequential(
            nn.Conv2d(8, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU()
        )
        self.branch = nn.Conv2d(8, 4, 1)
        self.pool = nn.AvgPool2d(2)
        self.dw = nn.Conv2d(12, 12, 3, stride=2, padding=1, groups=12)
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(12, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.stem(x))
        x = x + self.body(x)  # residual add
        x = torch.cat([x, self.branch(x)], dim=1)  # (N, 12, H, W)
        x = self.dw(self.pool(x))  # (N, 12, H/4, W/4)
        return self.fc(torch.flatten(self.gap(x), 1))


def randomize_bn(model: nn.Module, seed: int = 0) -> nn.Module:
    """Give every BN non-trivial running statistics and affine parameters."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                n = m.num_features
                m.running_mean.copy_(torch.randn(n, generator=gen) * 0.1)
                m.running_var.copy_(torch.rand(n, generator=gen) + 0.5)
                m.weight.copy_(torch.rand(n, generator=gen) + 0.5)
                m.bias.copy_(torch.randn(n, generator=gen) * 0.1)
    return model


@pytest.fixture
def tiny_net_cls() -> type[TinyResCatNet]:
    """The small residual/concat test network class."""
    return TinyResCatNet


@pytest.fixture
def tiny_net() -> nn.Module:
    """A seeded :class:`TinyResCatNet` with random BN statistics."""
    torch.manual_seed(0)
    return randomize_bn(TinyResCatNet())
