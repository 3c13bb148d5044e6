"""Weight initialisation shared by the zoo models."""

from __future__ import annotations

from torch import nn

__all__ = ["init_weights"]


def init_weights(model: nn.Module, bn_gamma: float = 1.0) -> nn.Module:
    """Initialise a CNN in place: Kaiming-normal convs, BN ``gamma=bn_gamma`` and ``beta=0``.

    Convolutions get ``kaiming_normal_(mode="fan_out", nonlinearity="relu")`` and zero bias;
    Linear layers keep PyTorch's default weight init and get a zero bias.

    Args:
        model: Model to initialise.
        bn_gamma: Initial BatchNorm scale (1.0 everywhere in the zoo).

    Returns:
        The same model, for chaining.

    Example:
        >>> from torch import nn
        >>> bn = init_weights(nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4)))[1]
        >>> bn.weight.tolist(), bn.bias.tolist()
        ([1.0, 1.0, 1.0, 1.0], [0.0, 0.0, 0.0, 0.0])
    """
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.BatchNorm2d | nn.BatchNorm1d):
            nn.init.constant_(module.weight, bn_gamma)
            nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)
    return model
