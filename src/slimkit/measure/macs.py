"""Multiply-accumulate (MAC) counting with ``torch.utils.flop_counter.FlopCounterMode``.

slimkit reports MACs everywhere; one MAC is one multiply plus one add, so FLOPs = 2 x MACs.
Counts are theoretical and shape-based: convolutions, linear layers, matrix products and
attention are counted; element-wise ops (BN, activations, additions, pooling) count zero.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from slimkit.measure._common import check_input_size, check_positive_int, eval_mode, make_input


def count_macs(model: nn.Module, input_size: tuple[int, int, int], batch_size: int = 1) -> int:
    """MACs of one forward pass per sample.

    The model runs once in eval mode under ``no_grad`` on a seeded random input of
    ``batch_size`` samples; the total is divided by ``batch_size``. Each submodule's
    train/eval flag is restored afterwards and BN running statistics are not touched.

    Args:
        model: the network.
        input_size: per-sample input shape ``(C, H, W)``.
        batch_size: batch used for the counting pass (the result is per sample).

    Returns:
        MACs per sample (FLOPs // 2).

    Example:
        >>> from torch import nn
        >>> count_macs(nn.Conv2d(3, 8, 3, padding=1), (3, 32, 32))  # 8*3*3*3 * 32*32
        221184
    """
    input_size = check_input_size(input_size)
    batch_size = check_positive_int("batch_size", batch_size)
    with eval_mode(model), torch.no_grad():
        x = make_input(model, input_size, batch_size)
        with FlopCounterMode(display=False) as counter:
            model(x)
    return int(counter.get_total_flops()) // 2 // batch_size


def macs_by_module(model: nn.Module, input_size: tuple[int, int, int]) -> dict[str, int]:
    """MACs per sample attributed to the innermost module running each counted op.

    For conv/linear layers that is the layer itself; a matrix product written inline in a
    module's ``forward`` (e.g. attention ``q @ k``) is attributed to that module, and ops in the
    root model's own ``forward`` go to ``""``. Keys are qualified names as in
    ``model.named_modules()``; modules with zero MACs are omitted; a module called several
    times accumulates. The values sum to ``count_macs(model, input_size)``.

    Args:
        model: the network.
        input_size: per-sample input shape ``(C, H, W)``.

    Returns:
        ``{qualified_name: macs}`` in execution order.

    Example:
        >>> from torch import nn
        >>> net = nn.Sequential(nn.Conv2d(3, 4, 1), nn.ReLU(), nn.Flatten(), nn.Linear(64, 2))
        >>> macs_by_module(net, (3, 4, 4))  # conv: 4*3 * 4*4, linear: 64*2
        {'0': 192, '3': 128}
    """
    input_size = check_input_size(input_size)
    flops: dict[str, int] = {}
    # Each entry: [name, counter total when the call started, inclusive flops of child calls].
    stack: list[list[Any]] = []
    counter = FlopCounterMode(display=False)

    def pre_hook(name: str) -> Any:
        def hook(module: nn.Module, args: Any) -> None:
            stack.append([name, counter.get_total_flops(), 0])

        return hook

    def post_hook(name: str) -> Any:
        def hook(module: nn.Module, args: Any, output: Any) -> None:
            _, start, children = stack.pop()
            inclusive = counter.get_total_flops() - start
            own = inclusive - children
            if own:
                flops[name] = flops.get(name, 0) + own
            if stack:
                stack[-1][2] += inclusive

        return hook

    handles = []
    try:
        for name, module in model.named_modules():
            handles.append(module.register_forward_pre_hook(pre_hook(name)))
            handles.append(module.register_forward_hook(post_hook(name), always_call=True))
        with eval_mode(model), torch.no_grad():
            x = make_input(model, input_size, 1)
            with counter:
                model(x)
    finally:
        for h in handles:
            h.remove()
    return {name: f // 2 for name, f in flops.items() if f // 2}
