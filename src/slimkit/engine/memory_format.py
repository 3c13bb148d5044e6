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

from slimkit.errors import first_line
    >>> channels_last_hazard(nn.Sequential(nn.Conv2d(4, 8, 1, stride=2)))
    "'0' is a 1x1 stride-2 conv with 4 input channels"
    >>> channels_last_hazard(nn.Conv2d(8, 16, 1, stride=2)) is None
    True
"""

from __future__ import annotations

import copy
import weakref

import torch
from torch import nn

from slimkit.errors import first_line

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


# module -> the reason its forward fails on a channels_last batch (None: it runs), per input size.
_PROBED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def channels_last_failure(module: nn.Module, input_size: tuple[int, ...]) -> str | None:
    """Why ``module``'s forward fails on a channels_last batch (e.g. ``x.view(x.size(0), -1)``
    on a non-contiguous tensor), or ``None`` when it runs. One eval-mode forward of a batch of
    2 on a copy, cached per module and input size.

    Example:
        >>> import torch
        >>> from torch import nn
        >>> class ViewHead(nn.Module):
        ...     def __init__(self):
        ...         super().__init__()
        ...         self.conv = nn.Conv2d(3, 8, 3)
        ...     def forward(self, x):
        ...         x = self.conv(x)
        ...         return x.view(x.size(0), -1)
        >>> channels_last_failure(ViewHead(), (3, 8, 8))[:40]
        'forward fails on a channels_last batch ('
        >>> channels_last_failure(nn.Conv2d(3, 8, 3), (3, 8, 8)) is None
        True
    """
    known = _PROBED.get(module, {})
    key = tuple(int(s) for s in input_size)
    if key in known:
        return known[key]
    if len(key) != 3:
        return None
    probe = copy.deepcopy(module).cpu().eval().to(memory_format=torch.channels_last)
    x = torch.zeros(2, *key).contiguous(memory_format=torch.channels_last)
    reason = None
    try:
        with torch.no_grad():
            probe(x)
    except RuntimeError as exc:
        reason = f"forward fails on a channels_last batch ({first_line(exc, 120)})"
    known[key] = reason
    _PROBED[module] = known
    return reason
