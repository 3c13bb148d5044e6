"""Channel-wise ops through which a channel that is 0 stays 0, shared by the coupled-group and
the channel-selection surgery."""

from __future__ import annotations

import torch_pruning as tp

__all__ = ["ZERO_UNARY", "keeps_channels", "passes_zero"]

# Ops through which a channel that is 0 everywhere stays 0 (f(0) = 0, pooling, copies).
ZERO_UNARY = {
    "Relu",
    "Hardtanh",
    "Silu",
    "Gelu",
    "Hardswish",
    "LeakyRelu",
    "Elu",
    "Mish",
    "Tanh",
    "Mean",
    "AvgPool2D",
    "AdaptiveAvgPool2D",
    "MaxPool2DWithIndices",
    "AdaptiveMaxPool2D",
    "Clone",
    "UpsampleNearest2D",
    "UpsampleBilinear2D",
}


def keeps_channels(node: tp.Node) -> bool:
    """A mean that reduces only non-channel dims (global pooling), not the channel dim."""
    dims = getattr(node.grad_fn, "_saved_dim", None)
    sizes = getattr(node.grad_fn, "_saved_self_sym_sizes", None)
    if dims is None or sizes is None:
        return False  # a mean over every element mixes channels
    ndim = len(sizes)
    channel_dims = {1, 2} if ndim == 3 else {1}  # (N, C, L) or (N, L, C): both are refused
    return not any(int(d) % ndim in channel_dims for d in dims)


def passes_zero(node: tp.Node) -> bool:
    """``node`` is a channel-wise op with f(0) = 0 that keeps channel indices (an activation,
    pooling, a mean over non-channel dims)."""
    if not isinstance(node.module, tp.ops._ElementWiseOp):
        return False
    base = str(node.module._grad_fn).split("Backward")[0]
    if base == "Mean":
        return keeps_channels(node)
    return base in ZERO_UNARY
