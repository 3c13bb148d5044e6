"""Parameter counting."""

from __future__ import annotations

from torch import nn


def count_params(model: nn.Module, *, trainable_only: bool = False) -> int:
    """Number of scalar parameters of ``model`` (a parameter shared by two modules counts once).

    Buffers (BN running statistics, masks) are not parameters and are not counted.

    Args:
        model: any module.
        trainable_only: count only parameters with ``requires_grad=True``.

    Returns:
        The parameter count.

    Example:
        >>> from torch import nn
        >>> count_params(nn.Linear(10, 4))  # 10 * 4 weights + 4 biases
        44
    """
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)
