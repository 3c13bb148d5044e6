"""Prepare any CNN for quantization-aware training, calibrate it, fold BatchNorm.

:func:`quant_plan` chooses bit widths per layer: every ``nn.Conv2d`` and ``nn.Linear`` (our zoo,
torchvision, timm) gets ``weight_bits``/``act_bits``, except the first and the last such layer
in module order, which get ``first_last_bits`` (default 8; the image input and the logits are
the most sensitive, a common QAT practice; the authors' code instead keeps the classifier float
and quantizes the first conv, digest §2.6). :func:`prepare_qat` swaps the layers for
:class:`~slimkit.quant.modules.QuantConv2d` / ``QuantLinear`` sharing the same weights. The swap
is a registered artifact edit, ``quantize``, whose parameters are plain data (the plan), so a
saved artifact rebuilds the quantized network and loads its state dict (steps included).

:func:`fold_bn` merges an eval-mode BatchNorm into the preceding conv (used before export).

Example:
    >>> from slimkit.models import build_model
    >>> model = build_model("resnet8_tiny")
    >>> plan = quant_plan(model, weight_bits=4, act_bits=4)
    >>> plan["conv1"], plan["fc"], plan["layer1.0.conv1"]
    ([8, 8], [8, 8], [4, 4])
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Sequence
from typing import Any

import torch
from torch import nn

from slimkit.engine.distributed import DistInfo, all_reduce_sum
from slimkit.quant.modules import QUANT_TYPES, QuantConv2d, QuantLinear


def _layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    return [
        (name, m)
        for name, m in model.named_modules()
        if isinstance(m, (nn.Conv2d, nn.Linear)) and name
    ]


def is_quantized(model: nn.Module) -> bool:
    """True when ``model`` holds a quantized layer.

    Example:
        >>> from torch import nn
        >>> is_quantized(nn.Linear(2, 2))
        False
    """
    return any(isinstance(m, QUANT_TYPES) for m in model.modules())


def quant_plan(
    model: nn.Module,
    *,
    weight_bits: int = 4,
    act_bits: int | None = 4,
    first_last_bits: int | None = 8,
    skip: Sequence[str] = (),
) -> dict[str, list[int | None]]:
    """``{layer name: [weight_bits, act_bits]}`` for every conv/linear layer to quantize.

    Args:
        model: the float network.
        weight_bits: bits of the body's weights (1-8).
        act_bits: bits of the body's layer inputs (1-8), ``None`` for float activations.
        first_last_bits: bits (weights and inputs) of the first and last layer; ``None``: as
            the body.
        skip: layer names left float.
    """
    names = [n for n, _ in _layers(model) if n not in set(skip)]
    unknown = sorted(set(skip) - {n for n, _ in _layers(model)})
    if unknown:
        raise ValueError(f"skip: {unknown[0]!r} is not a conv/linear layer of the model")
    if not names:
        raise ValueError("model: no nn.Conv2d or nn.Linear layer to quantize")
    plan: dict[str, list[int | None]] = {n: [weight_bits, act_bits] for n in names}
    if first_last_bits is not None:
        for n in {names[0], names[-1]}:
            plan[n] = [first_last_bits, first_last_bits]
    return plan


def _swap(parent: nn.Module, path: str, new: nn.Module) -> None:
    owner = parent.get_submodule(path.rpartition(".")[0]) if "." in path else parent
    setattr(owner, path.rpartition(".")[2], new)


def _conv_geometry(conv: nn.Conv2d) -> dict[str, Any]:
    """``nn.Conv2d`` keyword arguments that copy ``conv``'s shape (everything but ``bias``)."""
    return {
        "in_channels": conv.in_channels,
        "out_channels": conv.out_channels,
        "kernel_size": conv.kernel_size,
        "stride": conv.stride,
        "padding": conv.padding,
        "dilation": conv.dilation,
        "groups": conv.groups,
        "padding_mode": conv.padding_mode,
    }


def _quantized(layer: nn.Module, bits: Sequence[int | None], **opts: Any) -> nn.Module:
    wbits, abits = bits
    if isinstance(layer, nn.Conv2d):
        new: nn.Module = QuantConv2d(
            **_conv_geometry(layer),
            bias=layer.bias is not None,
            weight_bits=int(wbits),  # type: ignore[arg-type]
            act_bits=abits,
            **opts,
        )
    else:
        assert isinstance(layer, nn.Linear)
        new = QuantLinear(
            layer.in_features,
            layer.out_features,
            layer.bias is not None,
            weight_bits=int(wbits),  # type: ignore[arg-type]
            act_bits=abits,
            **opts,
        )
    new.weight = layer.weight  # the float shadow weight is the original parameter
    new.bias = layer.bias
    return new.to(layer.weight.device)


def prepare_qat(
    module: nn.Module,
    *,
    plan: dict[str, list[int | None]],
    per_channel: bool = True,
    weight_scale: str = "ls",
    ls_iters: int = 1,
) -> nn.Module:
    """Replace the planned layers of ``module`` (in place) by quantized ones; return it.

    Registered as the artifact edit ``quantize`` (all parameters are plain data).

    Args:
        module: the float network.
        plan: from :func:`quant_plan`.
        per_channel: per-output-channel weight scales.
        weight_scale: ``"ls"`` or ``"lsq"``.
        ls_iters: least-squares refinement rounds.

    Example:
        >>> import torch
        >>> from torch import nn
        >>> net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(144, 2))
        >>> net = prepare_qat(net, plan=quant_plan(net, first_last_bits=None))
        >>> type(net[0]).__name__, net(torch.randn(1, 3, 8, 8)).shape
        ('QuantConv2d', torch.Size([1, 2]))
    """
    layers = dict(_layers(module))
    for name, bits in plan.items():
        if name not in layers or isinstance(layers[name], QUANT_TYPES):
            raise ValueError(f"quantize: layer {name!r} is not a float conv/linear of the model")
        opts = {"per_channel": per_channel, "weight_scale": weight_scale, "ls_iters": ls_iters}
        _swap(module, name, _quantized(layers[name], bits, **opts))
    return module


@torch.no_grad()
def calibrate(
    model: nn.Module,
    batches: Iterable[torch.Tensor],
    device: torch.device,
    dist: DistInfo | None = None,
) -> int:
    """Calibrate every activation quantizer's sign and step on ``batches`` (inputs only; no
    labels are read); returns the number of batches used (summed over ranks).

    The quantizers are calibrated layer by layer on their first input (earlier layers quantized),
    then on later batches the steps are averaged. Under DDP (``dist``) each rank sees its own
    shard: the per-batch steps are averaged over every rank's batches and a quantizer is signed
    when any rank saw a negative input, so all ranks start QAT from the same quantizers.
    """
    from slimkit.quant.quantizers import ActQuantizer

    quantizers = [m for m in model.modules() if isinstance(m, ActQuantizer)]
    for q in quantizers:
        q.initialized.fill_(False)
    steps = {id(q): [] for q in quantizers}
    signed = {id(q): False for q in quantizers}

    def record(m: nn.Module, _i: object, _o: object) -> None:
        steps[id(m)].append(m.step.detach().clone())
        signed[id(m)] = signed[id(m)] or bool(m.signed)

    hooks = [q.register_forward_hook(record) for q in quantizers]
    was_training = model.training
    model.eval()
    used = 0
    try:
        for x in batches:
            model(x.to(device))
            used += 1
            for q in quantizers:
                q.initialized.fill_(False)  # recalibrate on the next batch
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    info = dist or DistInfo()
    # one vector for every quantizer: (sum of steps, number of steps, any signed), reduced once
    stats = torch.zeros(len(quantizers), 3, dtype=torch.float64, device=device)
    for i, q in enumerate(quantizers):
        if steps[id(q)]:
            stats[i, 0] = float(torch.stack(steps[id(q)]).double().sum())
            stats[i, 1] = len(steps[id(q)])
        stats[i, 2] = float(signed[id(q)])
    all_reduce_sum(stats, info)
    for i, q in enumerate(quantizers):
        total, count, any_signed = stats[i].tolist()
        if count > 0:
            q.step.copy_(torch.tensor(total / count, dtype=q.step.dtype))
            q.signed.fill_(any_signed > 0)
        q.initialized.fill_(True)
    counted = torch.tensor([float(used)], dtype=torch.float64, device=device)
    return int(all_reduce_sum(counted, info).item())


def fold_bn(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-output-channel ``(factor, bias)`` folding an eval-mode BN into the conv before it.

    ``BN(conv(x)) = conv_W'(x) + b'`` with ``W' = W·factor`` (per output channel),
    ``factor = γ/sqrt(var + eps)`` and ``b' = (b - mean)·factor + β``.

    Example:
        >>> import torch
        >>> from torch import nn
        >>> conv, bn = nn.Conv2d(2, 3, 3), nn.BatchNorm2d(3).eval()
        >>> _ = bn.running_mean.uniform_(), bn.running_var.uniform_(0.5, 2)
        >>> factor, bias = fold_bn(conv, bn)
        >>> folded = folded_conv(conv, bn)
        >>> x = torch.randn(1, 2, 5, 5)
        >>> bool(torch.allclose(folded(x), bn(conv(x)), atol=1e-5))
        True
    """
    factor = bn.weight.detach() / torch.sqrt(bn.running_var + bn.eps)
    bias = conv.bias.detach() if conv.bias is not None else torch.zeros_like(bn.running_mean)
    return factor, (bias - bn.running_mean) * factor + bn.bias.detach()


def folded_conv(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> nn.Conv2d:
    """A float ``nn.Conv2d`` equal to ``bn(conv(x))`` in eval mode (a copy; inputs untouched)."""
    factor, bias = fold_bn(conv, bn)
    new = copy.deepcopy(conv)
    if isinstance(new, QUANT_TYPES):
        new = nn.Conv2d(**_conv_geometry(conv), bias=True).to(conv.weight.device)
    with torch.no_grad():
        new.weight = nn.Parameter(conv.weight.detach() * factor.view(-1, 1, 1, 1))
        new.bias = nn.Parameter(bias)
    return new


def conv_bn_pairs(model: nn.Module) -> list[tuple[str, str]]:
    """``(conv name, bn name)`` pairs where a BN consumes only a conv's output (torch.fx trace).

    Returns ``[]`` when the model cannot be traced (then nothing is folded).

    Example:
        >>> from slimkit.models import build_model
        >>> conv_bn_pairs(build_model("resnet8_tiny"))[0]
        ('conv1', 'bn1')
    """
    import torch.fx

    class _Tracer(torch.fx.Tracer):
        def is_leaf_module(self, m: nn.Module, qualname: str) -> bool:
            return isinstance(m, QUANT_TYPES) or super().is_leaf_module(m, qualname)

    try:
        graph = _Tracer().trace(model)
    except Exception:  # noqa: BLE001  (untraceable control flow: fold nothing)
        return []
    pairs = []
    for node in graph.nodes:
        if node.op != "call_module" or not isinstance(
            model.get_submodule(node.target), nn.BatchNorm2d
        ):
            continue
        src = node.args[0]
        if (
            isinstance(src, torch.fx.Node)
            and src.op == "call_module"
            and isinstance(model.get_submodule(src.target), nn.Conv2d)
            and len(src.users) == 1
        ):
            pairs.append((str(src.target), str(node.target)))
    return pairs
