"""Quantized conv and linear layers for QAT: float shadow weights, quantized in forward.

:class:`QuantConv2d` and :class:`QuantLinear` subclass ``nn.Conv2d`` / ``nn.Linear`` (so MAC
counters, feature finders and ``isinstance`` checks keep working) and keep the float weight as the
trained parameter. Each forward quantizes the layer's *input* with an :class:`ActQuantizer`
(unsigned after a ReLU: the digest's quantized ReLU, §2.6) and its weight with a
:class:`WeightQuantizer` (straight-through), then runs the float op on the quantized values, so
the optimizer updates the float weights with gradients taken at ``Q(W)`` (BinaryConnect-style,
digest §2.6 "QAT update"). Quantizing a layer's input rather than the ReLU module works for any
CNN (functional ReLUs, shared ReLU modules); a residual shortcut therefore stays float, where the
authors' ResNet quantizes the ReLU output feeding it too [reconstructed difference].

Example:
    >>> import torch
    >>> conv = QuantConv2d(3, 4, 3, padding=1, weight_bits=4, act_bits=4)
    >>> conv(torch.randn(2, 3, 8, 8)).shape
    torch.Size([2, 4, 8, 8])
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from slimkit.quant.quantizers import ActQuantizer, WeightQuantizer


class _QuantMixin:
    """Shared construction of the two quantizers and the quantized weight."""

    weight: nn.Parameter
    weight_quant: WeightQuantizer
    act_quant: ActQuantizer | None

    def _init_quant(
        self,
        weight_bits: int,
        act_bits: int | None,
        per_channel: bool,
        weight_scale: str,
        ls_iters: int,
        channels: int,
    ) -> None:
        self.weight_bits, self.act_bits = weight_bits, act_bits
        self.weight_quant = WeightQuantizer(
            weight_bits, per_channel, weight_scale, ls_iters, channels
        )
        self.act_quant = ActQuantizer(act_bits) if act_bits is not None else None

    def quantized_weight(self) -> torch.Tensor:
        """``Q(W)`` with the straight-through gradient to the float weight."""
        return self.weight_quant(self.weight)

    def _quant_input(self, x: torch.Tensor) -> torch.Tensor:
        return self.act_quant(x) if self.act_quant is not None else x


class QuantConv2d(_QuantMixin, nn.Conv2d):
    """``nn.Conv2d`` with quantized input and weight (see the module docstring).

    Args:
        *args: ``nn.Conv2d`` arguments.
        weight_bits: 1-8.
        act_bits: 1-8, or ``None`` for a float input.
        per_channel: one weight scale per output channel.
        weight_scale: ``"ls"`` or ``"lsq"``.
        ls_iters: least-squares refinement rounds.
        **kwargs: ``nn.Conv2d`` keyword arguments.
    """

    def __init__(
        self,
        *args: Any,
        weight_bits: int = 4,
        act_bits: int | None = 4,
        per_channel: bool = True,
        weight_scale: str = "ls",
        ls_iters: int = 1,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self._init_quant(
            weight_bits, act_bits, per_channel, weight_scale, ls_iters, self.out_channels
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._conv_forward(self._quant_input(x), self.quantized_weight(), self.bias)


class QuantLinear(_QuantMixin, nn.Linear):
    """``nn.Linear`` with quantized input and weight (see the module docstring).

    Example:
        >>> import torch
        >>> QuantLinear(6, 2, weight_bits=8, act_bits=8)(torch.rand(3, 6)).shape
        torch.Size([3, 2])
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        *,
        weight_bits: int = 8,
        act_bits: int | None = 8,
        per_channel: bool = True,
        weight_scale: str = "ls",
        ls_iters: int = 1,
        **kwargs: Any,
    ) -> None:
        super().__init__(in_features, out_features, bias, **kwargs)
        self._init_quant(weight_bits, act_bits, per_channel, weight_scale, ls_iters, out_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(self._quant_input(x), self.quantized_weight(), self.bias)


QUANT_TYPES = (QuantConv2d, QuantLinear)
