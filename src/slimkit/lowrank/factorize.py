"""Replace conv and linear layers by two thin layers (TRP digest §1.2, §1.6).

With the thin SVD ``M = U Σ Vᵀ`` of a layer's matrix view (:mod:`slimkit.lowrank.reshapes`) and a
rank r, the layer becomes ``nn.Sequential(first, second)`` of standard modules:

- ``channel`` (NC): ``first`` = kh×kw conv C→r (the layer's stride, padding, dilation and padding
  mode), kernels the rows of ``√Σ_r V_rᵀ``; ``second`` = 1×1 conv r→N with kernel ``U_r √Σ_r``.
- ``spatial`` (VH): ``first`` = kh×1 conv C→r (vertical stride, padding and dilation), kernels from
  the columns of ``U_r √Σ_r``; ``second`` = 1×kw conv r→N (horizontal ones), kernels from
  ``√Σ_r V_rᵀ``. The digest's code puts all of Σ into the second factor; splitting it as √Σ is
  equally exact and balances the two factors' scales.
- linear ``(out, in)``: ``first`` = Linear in→r (no bias), ``second`` = Linear r→out.

The original bias goes to ``second``; ``first`` has none (so zero padding stays exact for VH).
Composing the two layers equals the layer with the rank-r kernel ``U_r Σ_r V_rᵀ`` folded back: at
full rank the outputs match the original layer up to float rounding (tested to 1e-4). Grouped and
depthwise convs are not eligible. The factorized model is a plain ``nn.Module`` that exports to
ONNX like any other.

The artifact edit ``"factorize"`` (``{layer_name: rank}``, ``scheme``) is :func:`factorize_edit` (declared in :mod:`slimkit.builtins`): loading a
saved model rebuilds the two-layer structure, then its weights come from the state dict.

Example:
    >>> import torch
    >>> from torch import nn
    >>> conv = nn.Conv2d(8, 16, 3, padding=1).eval()
    >>> x = torch.randn(2, 8, 9, 9)
    >>> pair = factorize_conv(conv, rank=16, scheme="channel")  # full rank: exact
    >>> bool((pair(x) - conv(x)).abs().max() < 1e-4)
    True
"""

from __future__ import annotations

import torch
from torch import nn

from slimkit.lowrank.reshapes import Scheme, check_scheme, matrix_shape, to_matrix
from slimkit.lowrank.svd import grouped_svd
from slimkit.registry import suggest

__all__ = [
    "eligible_layers",
    "factorize_conv",
    "factorize_edit",
    "factorize_linear",
    "factorize_model",
    "max_rank",
]


def max_rank(module: nn.Module, scheme: Scheme) -> int:
    """Full rank of ``module``'s matrix view under ``scheme`` (min of its two dimensions).

    Example:
        >>> from torch import nn
        >>> max_rank(nn.Conv2d(16, 32, 3), "channel"), max_rank(nn.Conv2d(16, 32, 3), "spatial")
        (32, 48)
    """
    return min(matrix_shape(tuple(module.weight.shape), scheme))


def _is_eligible_conv(m: nn.Module) -> bool:
    return isinstance(m, nn.Conv2d) and m.groups == 1 and tuple(m.kernel_size) != (1, 1)


def eligible_layers(
    model: nn.Module,
    *,
    include_linear: bool = False,
    include_strided: bool = True,
    skip_first: bool = True,
) -> list[str]:
    """Layers TRP regularizes and the factorize stage may split (digest §1.6).

    Every ``nn.Conv2d`` with a kernel other than 1×1 and ``groups == 1``, except the network's
    first conv (``skip_first``); with ``include_linear``, every ``nn.Linear`` except the last one
    (the classifier, which the TRP code leaves dense). ``include_strided=False`` drops strided
    convs (the TRP code decomposes only stride-1 convs at the end).

    Example:
        >>> from slimkit.models import build_model
        >>> names = eligible_layers(build_model("resnet20"))
        >>> len(names), names[0]
        (18, 'layer1.0.conv1')
    """
    named = list(model.named_modules())
    convs = [n for n, m in named if isinstance(m, nn.Conv2d)]
    first = convs[0] if (skip_first and convs) else None
    linears = [n for n, m in named if isinstance(m, nn.Linear)]
    last_linear = linears[-1] if linears else None
    chosen = []
    for name, m in named:
        if _is_eligible_conv(m) and name != first:
            if include_strided or tuple(m.stride) == (1, 1):
                chosen.append(name)
        elif include_linear and isinstance(m, nn.Linear) and name != last_linear:
            chosen.append(name)
    return chosen


def _factors(
    weight: torch.Tensor, rank: int, scheme: Scheme, svd: tuple | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(A, B)`` with ``A = U_r √Σ_r`` (rows × r) and ``B = √Σ_r V_rᵀ`` (r × cols), float64."""
    if svd is None:
        svd = grouped_svd([to_matrix(weight.detach(), scheme)], torch.float64)[0]
    u, s, vh = (t.double() for t in svd)
    root = s[:rank].sqrt()
    return u[:, :rank] * root, root[:, None] * vh[:rank]


def factorize_conv(
    conv: nn.Conv2d, rank: int, scheme: Scheme = "channel", svd: tuple | None = None
) -> nn.Sequential:
    """Two convs equal to ``conv`` with its ``scheme`` matrix truncated to ``rank``.

    Args:
        conv: a ``groups == 1`` conv.
        rank: kept rank r (1 ≤ r ≤ :func:`max_rank`).
        scheme: ``channel`` (kh×kw C→r, then 1×1 r→N) or ``spatial`` (kh×1 C→r, then 1×kw r→N).
        svd: a precomputed ``(U, S, Vh)`` of the matrix view (else computed in float64).

    Returns:
        ``nn.Sequential(first, second)`` on the conv's device and dtype.

    Example:
        >>> import torch
        >>> from torch import nn
        >>> conv = nn.Conv2d(4, 6, 3, stride=2, padding=1).eval()
        >>> pair = factorize_conv(conv, 12, "spatial")
        >>> x = torch.randn(1, 4, 7, 7)
        >>> bool((pair(x) - conv(x)).abs().max() < 1e-4)
        True
    """
    scheme = check_scheme(scheme)
    if conv.groups != 1:
        raise ValueError(f"rank: grouped convs (groups={conv.groups}) cannot be factorized")
    full = max_rank(conv, scheme)
    if not 1 <= rank <= full:
        raise ValueError(f"rank: expected 1..{full} for this layer, got {rank!r}")
    w = conv.weight
    n, c, kh, kw = w.shape
    a, b = _factors(w, rank, scheme, svd)
    bias = conv.bias is not None
    opts = {"device": w.device, "dtype": w.dtype}
    if scheme == "channel":
        first = nn.Conv2d(c, rank, (kh, kw), conv.stride, conv.padding, conv.dilation,
                          bias=False, padding_mode=conv.padding_mode, **opts)  # fmt: skip
        second = nn.Conv2d(rank, n, 1, bias=bias, **opts)
        w1 = b.reshape(rank, c, kh, kw)  # rows of √Σ V_rᵀ: (r, C·kh·kw) -> (r, C, kh, kw)
        w2 = a.reshape(n, rank, 1, 1)  # U_r √Σ: (N, r) -> (N, r, 1, 1)
    else:
        sh, sw = conv.stride
        dh, dw = conv.dilation
        if isinstance(conv.padding, str):
            pad1: str | tuple[int, int] = conv.padding
            pad2: str | tuple[int, int] = conv.padding
        else:
            pad1, pad2 = (conv.padding[0], 0), (0, conv.padding[1])
        first = nn.Conv2d(c, rank, (kh, 1), (sh, 1), pad1, (dh, 1), bias=False,
                          padding_mode=conv.padding_mode, **opts)  # fmt: skip
        second = nn.Conv2d(rank, n, (1, kw), (1, sw), pad2, (1, dw), bias=bias,
                           padding_mode=conv.padding_mode, **opts)  # fmt: skip
        # U_r √Σ: (C·kh, r) -> (C, kh, r) -> (r, C, kh) -> (r, C, kh, 1)
        w1 = a.reshape(c, kh, rank).permute(2, 0, 1).unsqueeze(-1)
        # √Σ V_rᵀ: (r, N·kw) -> (r, N, kw) -> (N, r, kw) -> (N, r, 1, kw)
        w2 = b.reshape(rank, n, kw).permute(1, 0, 2).unsqueeze(2)
    with torch.no_grad():
        first.weight.copy_(w1)
        second.weight.copy_(w2)
        if bias:
            second.bias.copy_(conv.bias)
    return nn.Sequential(first, second)


def factorize_linear(linear: nn.Linear, rank: int, svd: tuple | None = None) -> nn.Sequential:
    """``nn.Sequential(Linear(in, r, bias=False), Linear(r, out))`` equal to the rank-r ``linear``.

    Example:
        >>> import torch
        >>> from torch import nn
        >>> fc = nn.Linear(10, 4)
        >>> x = torch.randn(3, 10)
        >>> bool((factorize_linear(fc, 4)(x) - fc(x)).abs().max() < 1e-5)
        True
    """
    out_f, in_f = linear.weight.shape
    full = min(out_f, in_f)
    if not 1 <= rank <= full:
        raise ValueError(f"rank: expected 1..{full} for this layer, got {rank!r}")
    a, b = _factors(linear.weight, rank, "channel", svd)
    opts = {"device": linear.weight.device, "dtype": linear.weight.dtype}
    bias = linear.bias is not None
    first = nn.Linear(in_f, rank, bias=False, **opts)
    second = nn.Linear(rank, out_f, bias=bias, **opts)
    with torch.no_grad():
        first.weight.copy_(b)  # √Σ V_rᵀ: (r, in)
        second.weight.copy_(a)  # U_r √Σ: (out, r)
        if bias:
            second.bias.copy_(linear.bias)
    return nn.Sequential(first, second)


def _set_submodule(model: nn.Module, name: str, new: nn.Module) -> None:
    parent_name, _, attr = name.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    setattr(parent, attr, new)


def factorize_model(
    model: nn.Module, ranks: dict[str, int], scheme: Scheme = "channel"
) -> nn.Module:
    """Replace each layer named in ``ranks`` by its two-layer factorization, in place.

    Args:
        model: the network.
        ranks: qualified layer name (a ``groups == 1`` ``nn.Conv2d`` or an ``nn.Linear``) → rank.
        scheme: ``channel`` or ``spatial`` for convs (linears have one matrix view).

    Returns:
        ``model`` (modified in place).

    Example:
        >>> from slimkit.models import build_model
        >>> model = factorize_model(build_model("resnet8_tiny"), {"layer1.0.conv1": 2})
        >>> model.layer1[0].conv1[0].out_channels
        2
    """
    scheme = check_scheme(scheme)
    modules = dict(model.named_modules())
    allowed = [n for n, m in modules.items() if _is_eligible_conv(m) or isinstance(m, nn.Linear)]
    for name, rank in ranks.items():
        if name not in allowed:
            raise ValueError(
                f"ranks: {name!r} is not a factorizable conv/linear layer of the model"
                f"{suggest(name, allowed)}"
            )
        if isinstance(rank, bool) or not isinstance(rank, int):
            raise ValueError(f"ranks.{name}: expected an int rank, got {rank!r}")
    names = list(ranks)
    views = [to_matrix(modules[n].weight.detach(), scheme) for n in names]
    spectra = grouped_svd(views, torch.float64)
    for name, svd in zip(names, spectra, strict=True):
        layer = modules[name]
        if isinstance(layer, nn.Linear):
            new = factorize_linear(layer, ranks[name], svd)
        else:
            new = factorize_conv(layer, ranks[name], scheme, svd)
        new.train(layer.training)
        _set_submodule(model, name, new)
    return model


def factorize_edit(module: nn.Module, ranks: dict[str, int], scheme: str = "channel") -> nn.Module:
    """Artifact edit: :func:`factorize_model` with plain-data parameters.

    Example:
        >>> from slimkit.artifacts import SlimModel
        >>> handle = SlimModel.build("resnet8_tiny", num_classes=10, input_size=(3, 32, 32))
        >>> handle.apply_edit("factorize", ranks={"layer2.0.conv2": 3}, scheme="spatial")
        >>> handle.module.layer2[0].conv2[1].kernel_size
        (1, 3)
    """
    return factorize_model(module, {str(k): int(v) for k, v in ranks.items()}, check_scheme(scheme))
