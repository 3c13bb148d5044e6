"""Multiply-accumulate (MAC) counting with ``torch.utils.flop_counter.FlopCounterMode``.

slimkit reports MACs everywhere; one MAC is one multiply plus one add, so FLOPs = 2 x MACs.
Counts are theoretical and shape-based: convolutions, linear layers, matrix products and
attention are counted; element-wise ops (BN, activations, additions, pooling) count zero.

FFTs (``torch.fft``; ``FlopCounterMode`` alone counts them as 0) are counted with the textbook
radix-2 cost: a complex transform of ``N`` points (``N`` = the product of the transformed sizes,
e.g. ``H·W`` for ``fft2``) costs ``5/2 · N · log2 N`` real MACs (``5 N log2 N`` flops), and a real
transform (``rfft*`` / ``irfft*``, one complex transform of half the size plus a linear pass)
half of that, ``5/4 · N · log2 N``; times the number of transformed signals (batch × channels).
See :data:`FFT_RULE`.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from slimkit.measure._common import check_input_size, check_positive_int, eval_mode, make_input

FFT_RULE = (
    "FFT MACs: 5/2·N·log2(N) per complex transform of N points, 5/4·N·log2(N) per real "
    "(rfft/irfft) transform, times the number of transformed signals"
)


def _transform_macs(shape: Any, dims: Any, complex_input: bool) -> int:
    """MACs of one FFT call over ``dims`` of a tensor of ``shape`` (see :data:`FFT_RULE`)."""
    points = math.prod(int(shape[d]) for d in dims)
    signals = math.prod(int(s) for s in shape) // max(points, 1)
    if points < 2:
        return 0
    per_signal = 2.5 * points * math.log2(points) * (1.0 if complex_input else 0.5)
    return round(signals * per_signal)


def _r2c_flops(x_shape: Any, dim: Any, *args: Any, out_shape: Any = None, **kwargs: Any) -> int:
    return 2 * _transform_macs(x_shape, dim, complex_input=False)


def _c2r_flops(x_shape: Any, dim: Any, *args: Any, out_shape: Any = None, **kwargs: Any) -> int:
    return 2 * _transform_macs(out_shape, dim, complex_input=False)


def _c2c_flops(x_shape: Any, dim: Any, *args: Any, out_shape: Any = None, **kwargs: Any) -> int:
    return 2 * _transform_macs(x_shape, dim, complex_input=True)


_FFT_FORMULAS = {
    torch.ops.aten._fft_r2c: _r2c_flops,
    torch.ops.aten._fft_c2r: _c2r_flops,
    torch.ops.aten._fft_c2c: _c2c_flops,
}


def _counter() -> FlopCounterMode:
    return FlopCounterMode(display=False, custom_mapping=_FFT_FORMULAS)


def _count(model: nn.Module, input_size: tuple[int, int, int], batch_size: int) -> tuple[int, int]:
    """Total and FFT MACs per sample, from one counted forward pass."""
    with eval_mode(model), torch.no_grad():
        x = make_input(model, input_size, batch_size)
        with _counter() as counter:
            model(x)
    counts = counter.get_flop_counts().get("Global", {})
    fft = sum(int(v) for op, v in counts.items() if op in _FFT_FORMULAS)
    return int(counter.get_total_flops()) // 2 // batch_size, fft // 2 // batch_size


def count_macs_and_fft(model: nn.Module, input_size: tuple[int, int, int]) -> tuple[int, int]:
    """:func:`count_macs` and :func:`fft_macs` from one forward pass.

    Example (the mask MLP: 12 frequency bins x 2 layers x 8 blocks x 4 real products of a 1x1
    complex weight = 768 MACs, plus 1280 FFT MACs):
        >>> from slimkit.models.fourier import AFFMixer
        >>> count_macs_and_fft(AFFMixer(8), (8, 4, 4))
        (2048, 1280)
    """
    return _count(model, check_input_size(input_size), 1)


def fft_macs(model: nn.Module, input_size: tuple[int, int, int]) -> int:
    """The FFT part of :func:`count_macs` (0 for a model without ``torch.fft`` calls).

    Example:
        >>> from slimkit.models.fourier import AFFMixer
        >>> fft_macs(AFFMixer(8), (8, 4, 4))  # 2 real transforms x 8 channels x 5/4 * 16 * 4
        1280
    """
    return count_macs_and_fft(model, input_size)[1]


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
    return _count(model, input_size, batch_size)[0]


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
    counter = _counter()

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
