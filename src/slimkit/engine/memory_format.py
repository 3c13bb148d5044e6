"""When ``channels_last`` is safe: a guard against a oneDNN fault on some CPUs.

``channels_last`` doubles CPU training throughput (DESIGN.md), but with torch 2.14.1 on this
project's AMD EPYC machines the backward pass of a **1×1 strided convolution with fewer than 8
input channels** in channels_last format hangs, aborts or corrupts memory (measured: a
``Conv2d(4, 8, 1, stride=2)`` backward on a ``(32, 4, 32, 32)`` channels_last input never
returns; 2, 3, 4, 6 and 7 input channels all fail, 8 works, stride 1 works). Tiny test models
(``resnet8_tiny``'s option-B shortcuts) and heavily pruned networks have such layers. The run
keeps such a model in the plain contiguous format instead, and says so once.

Example:
    >>> from torch import nn
    >>> channels_last_hazard(nn.Sequential(nn.Conv2d(4, 8, 1, stride=2)))
    "'0' is a 1x1 stride-2 conv with 4 input channels"
    >>> channels_last_hazard(nn.Conv2d(8, 16, 1, stride=2)) is None
    True
"""

from __future__ import annotations

from torch import nn

MIN_SAFE_IN_CHANNELS = 8


def channels_last_hazard(module: nn.Module) -> str | None:
    """Why ``module`` must not run in channels_last on the CPU, or ``None`` when it may."""
    for name, m in module.named_modules():
        if (
            isinstance(m, nn.Conv2d)
            and m.kernel_size == (1, 1)
            and m.stride != (1, 1)
            and m.in_channels < MIN_SAFE_IN_CHANNELS
        ):
            return (
                f"'{name}' is a 1x1 stride-{m.stride[0]} conv with {m.in_channels} input channels"
            )
    return None
