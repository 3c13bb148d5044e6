"""LeNet-5 for 32x32 inputs (LeCun et al. 1998, with ReLU and max-pooling)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from slimkit.models.init import init_weights
from slimkit.models.registry import forwards_to

__all__ = ["LeNet5"]


class LeNet5(nn.Module):
    """conv5x5-ReLU-maxpool, conv5x5-ReLU-maxpool, fc-ReLU, fc-ReLU, fc (32x32 input).

    Args:
        conv_widths: Output channels of the two convs (6, 16).
        hidden_widths: Widths of the two hidden fully connected layers (120, 84).
        num_classes: Classifier outputs.
        in_channels: Input image channels.

    Example:
        >>> import torch
        >>> LeNet5(in_channels=1)(torch.randn(2, 1, 32, 32)).shape
        torch.Size([2, 10])
    """

    def __init__(
        self,
        conv_widths: Sequence[int] = (6, 16),
        hidden_widths: Sequence[int] = (120, 84),
        num_classes: int = 10,
        in_channels: int = 3,
    ) -> None:
        super().__init__()
        c1, c2 = (int(w) for w in conv_widths)
        h1, h2 = (int(w) for w in hidden_widths)
        self.conv_widths = [c1, c2]
        self.hidden_widths = [h1, h2]
        self.conv1 = nn.Conv2d(in_channels, c1, 5)  # (N, c1, 28, 28)
        self.relu1 = nn.ReLU()
        self.pool1 = nn.MaxPool2d(2)  # (N, c1, 14, 14)
        self.conv2 = nn.Conv2d(c1, c2, 5)  # (N, c2, 10, 10)
        self.relu2 = nn.ReLU()
        self.pool2 = nn.MaxPool2d(2)  # (N, c2, 5, 5)
        self.flatten = nn.Flatten(1)  # (N, c2 * 25)
        self.fc1 = nn.Linear(c2 * 5 * 5, h1)
        self.relu3 = nn.ReLU()
        self.fc2 = nn.Linear(h1, h2)
        self.relu4 = nn.ReLU()
        self.fc3 = nn.Linear(h2, num_classes)
        init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool1(self.relu1(self.conv1(x)))
        x = self.flatten(self.pool2(self.relu2(self.conv2(x))))
        x = self.relu4(self.fc2(self.relu3(self.fc1(x))))
        return self.fc3(x)


@forwards_to(LeNet5)
def lenet5(**kwargs: Any) -> LeNet5:
    """LeNet-5 builder.

    Example:
        >>> lenet5(num_classes=3).fc3.out_features
        3
    """
    return LeNet5(**kwargs)
