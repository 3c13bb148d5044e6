"""ONNX export of a QAT model with QuantizeLinear/DequantizeLinear (QDQ), parity and latency.

:func:`to_qdq_module` turns a fake-quant network into its deployable form: every BatchNorm that
follows a conv is folded into it (:func:`~slimkit.quant.prepare.fold_bn`), each quantized layer
becomes a :class:`QDQConv2d`/:class:`QDQLinear` whose weight is the integer code times a
per-output-channel scale (the BN factor folded into the scale, so the codes are unchanged) and
whose input goes through ``QuantizeLinear → DequantizeLinear``. :func:`export_qdq` exports that
with :func:`slimkit.measure.export_onnx` and records ``max_abs_diff`` between ONNX Runtime and
the fake-quant model itself (eval mode).

Bit widths and ONNX Runtime. The file uses 8-bit QDQ tensors only (int8 weights, uint8 inputs
after a ReLU, int8 for signed inputs), which every ONNX Runtime CPU build runs; opset 13 is the
minimum (per-channel DequantizeLinear). Lower widths are exported exactly in the same 8-bit
containers: the weight codes of a b-bit layer lie in ``[-(2^(b-1)-1), 2^(b-1)-1]`` (``{-1, 0, 1}``
for 1 and 2 bits) and a b-bit input is clipped to its b-bit range (a ``Clip`` before
``QuantizeLinear``), so the arithmetic equals the b-bit model. ONNX's INT4/UINT4 types (opset
21) would store 4-bit weights in half the bytes, but torch's exporter does not emit them and the
ORT CPU kernels compute on 8-bit values anyway, so there is no speed-up below 8 bits on CPU.
ORT fuses ``DQ → Conv → (Relu) → Q`` into an integer ``QLinearConv`` where a layer's output feeds
a quantized input directly (conv1 of a ResNet block); a conv whose output meets a residual
addition first runs as a float conv on dequantized values (same numbers, no integer kernel).

Example:
    >>> import tempfile, os, torch
    >>> from slimkit.models import build_model
    >>> from slimkit.quant.prepare import calibrate, prepare_qat, quant_plan
    >>> model = build_model("resnet8_tiny").eval()
    >>> model = prepare_qat(model, plan=quant_plan(model))
    >>> calibrate(model, [torch.randn(8, 3, 32, 32)], torch.device("cpu"))
    1
    >>> with tempfile.TemporaryDirectory() as d:
    ...     res = export_qdq(model, os.path.join(d, "m.onnx"), (3, 32, 32), latency=False)
    >>> res.qdq_nodes > 0, res.max_abs_diff < 1e-2
    (True, True)
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from slimkit.measure import export_onnx, measure_latency, ort_session
from slimkit.measure._common import eval_mode, make_input
from slimkit.quant.modules import QUANT_TYPES, QuantConv2d, QuantLinear
from slimkit.quant.prepare import conv_bn_pairs, fold_bn
from slimkit.quant.qdq_codes import max_code_difference
from slimkit.quant.quantizers import ActQuantizer, weight_codes


class _QDQMixin:
    """Buffers and the QDQ computation shared by the exportable layers."""

    def _set_quant(self, layer: nn.Module, factor: torch.Tensor | None) -> None:
        w = layer.weight.detach()
        wq = layer.weight_quant
        scale = wq.scale(w)
        codes = weight_codes(w, wq.bits, scale, wq.per_channel) if wq.scale_mode == "ls" else None
        if codes is None:  # lsq
            levels = 2 ** (wq.bits - 1) - 1
            codes = torch.clamp(torch.round(w / scale), -levels, levels)
        scale = scale.reshape(-1).expand(w.shape[0]).clone()
        if factor is not None:  # BN folded: the factor goes into the scale, the codes keep |q|
            codes = codes * torch.sign(factor).view(-1, *([1] * (w.dim() - 1)))
            scale = scale * factor.abs()
        dead = scale == 0  # a zero BN scale: that output channel is constant (its bias)
        codes[dead] = 0
        scale[dead] = 1.0
        self.register_buffer("w_scale", scale.float())  # type: ignore[attr-defined]
        self.register_buffer("w_codes", codes.float())  # type: ignore[attr-defined]
        aq: ActQuantizer | None = layer.act_quant
        self.act = (
            None if aq is None else (float(aq.step.detach().clamp(min=aq.min_step)), *aq.code_range)
        )

    def qdq_weight(self) -> torch.Tensor:
        zero = torch.zeros_like(self.w_scale, dtype=torch.int32)
        w = self.w_codes * self.w_scale.view(-1, *([1] * (self.w_codes.dim() - 1)))
        return torch.fake_quantize_per_channel_affine(w, self.w_scale, zero, 0, -128, 127)

    def qdq_input(self, x: torch.Tensor) -> torch.Tensor:
        if self.act is None:
            return x
        step, lo, hi = self.act
        qmin, qmax = (0, 255) if lo >= 0 else (-128, 127)
        if (lo, hi) != (qmin, qmax):  # narrower than 8 bits: clip to the b-bit range first
            x = torch.clamp(x, lo * step, hi * step)
        return torch.fake_quantize_per_tensor_affine(x, step, 0, qmin, qmax)


class QDQConv2d(_QDQMixin, nn.Module):
    """Deployable form of a :class:`QuantConv2d` (optionally with a folded BN)."""

    def __init__(self, layer: QuantConv2d, bn: nn.BatchNorm2d | None = None) -> None:
        super().__init__()
        self.stride, self.padding = layer.stride, layer.padding
        self.dilation, self.groups = layer.dilation, layer.groups
        if layer.padding_mode != "zeros":
            raise ValueError(f"export: padding_mode {layer.padding_mode!r} is not exportable")
        factor, bias = fold_bn(layer, bn) if bn is not None else (None, layer.bias)
        self._set_quant(layer, factor)
        self.bias = None if bias is None else nn.Parameter(bias.detach().clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(
            self.qdq_input(x), self.qdq_weight(), self.bias, self.stride, self.padding,
            self.dilation, self.groups,
        )  # fmt: skip


class QDQLinear(_QDQMixin, nn.Module):
    """Deployable form of a :class:`QuantLinear`."""

    def __init__(self, layer: QuantLinear) -> None:
        super().__init__()
        self._set_quant(layer, None)
        self.bias = None if layer.bias is None else nn.Parameter(layer.bias.detach().clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(self.qdq_input(x), self.qdq_weight(), self.bias)


def _replace(model: nn.Module, name: str, new: nn.Module) -> None:
    owner = model.get_submodule(name.rpartition(".")[0]) if "." in name else model
    setattr(owner, name.rpartition(".")[2], new)


def to_qdq_module(model: nn.Module) -> nn.Module:
    """A CPU eval-mode copy of ``model`` with BNs folded and quantized layers in QDQ form.

    Example:
        >>> from slimkit.models import build_model
        >>> from slimkit.quant.prepare import prepare_qat, quant_plan
        >>> m = build_model("resnet8_tiny")
        >>> m = prepare_qat(m, plan=quant_plan(m, act_bits=None, first_last_bits=None))
        >>> type(to_qdq_module(m).conv1).__name__
        'QDQConv2d'
    """
    cold = [
        n for n, m in model.named_modules() if isinstance(m, ActQuantizer) and not m.initialized
    ]
    if cold:
        raise ValueError(
            f"model: activation quantizer {cold[0]!r} is not calibrated; run "
            "slimkit.quant.calibrate (the quantize stage does) or a training step first"
        )
    net = copy.deepcopy(model).cpu().eval()
    net = net.to(memory_format=torch.contiguous_format)
    folded = {}
    for conv_name, bn_name in conv_bn_pairs(net):
        folded[conv_name] = bn_name
    for name, m in list(net.named_modules()):
        if isinstance(m, QuantConv2d):
            bn = net.get_submodule(folded[name]) if name in folded else None
            _replace(net, name, QDQConv2d(m, bn))
            if bn is not None:
                _replace(net, folded[name], nn.Identity())
        elif isinstance(m, QuantLinear):
            _replace(net, name, QDQLinear(m))
    return net


def to_float_module(model: nn.Module) -> nn.Module:
    """A CPU eval-mode copy of ``model`` with quantized layers back to float layers (the fp32
    baseline for latency), BNs left as they are (ONNX Runtime folds them itself)."""
    net = copy.deepcopy(model).cpu().eval()
    for name, m in list(net.named_modules()):
        if isinstance(m, QUANT_TYPES):
            plain: nn.Module
            if isinstance(m, QuantConv2d):
                plain = nn.Conv2d(
                    m.in_channels, m.out_channels, m.kernel_size, m.stride, m.padding,
                    m.dilation, m.groups, m.bias is not None, m.padding_mode,
                )  # fmt: skip
            else:
                plain = nn.Linear(m.in_features, m.out_features, m.bias is not None)
            plain.load_state_dict({k: v for k, v in m.state_dict().items() if "." not in k})
            _replace(net, name, plain)
    return net


@dataclass
class QDQExportResult:
    """Outcome of :func:`export_qdq`.

    Attributes:
        path: the QDQ ``.onnx`` file.
        max_abs_diff: largest |ONNX Runtime - fake-quant torch model| over the checked inputs.
        opset: opset of the file.
        qdq_nodes: QuantizeLinear + DequantizeLinear nodes in the file.
        max_abs_diff_export: ONNX Runtime vs the exported (BN-folded) torch module: the export's
            own fidelity. ``max_abs_diff`` is larger because folding BN changes float rounding,
            and a pre-activation on a rounding boundary then moves by a whole quantization step.
        argmax_agreement: fraction of the checked inputs whose top class agrees (ORT vs
            fake-quant).
        max_code_diff: largest difference, in quantization steps, between the integer codes of
            any activation quantizer in ONNX Runtime and in the fake-quant model on the checked
            inputs (:func:`~slimkit.quant.qdq_codes.max_code_difference`; 1 is expected where
            folding BN moves a value across a rounding boundary); ``None`` if the quantizers
            could not be matched one by one.
        fp32_path: the float baseline's ``.onnx`` (when latency was measured).
        latency_ms: ``ort_fp32_bs<B>`` and ``ort_int8_bs<B>`` medians.
    """

    path: str
    max_abs_diff: float
    opset: int
    qdq_nodes: int
    max_abs_diff_export: float = 0.0
    argmax_agreement: float = 1.0
    max_code_diff: int | None = None
    fp32_path: str | None = None
    latency_ms: dict[str, float] = field(default_factory=dict)


def _count_qdq(path: Path) -> int:
    import onnx

    graph = onnx.load(str(path)).graph
    return sum(n.op_type in ("QuantizeLinear", "DequantizeLinear") for n in graph.node)


def export_qdq(
    model: nn.Module,
    path: str | Path,
    input_size: tuple[int, int, int],
    *,
    opset: int = 17,
    check_batch: int = 32,
    tolerance: float | None = None,
    inputs: torch.Tensor | None = None,
    min_agreement: float | None = None,
    latency: bool = True,
    batch_sizes: tuple[int, ...] = (1, 32),
    threads: int | None = None,
) -> QDQExportResult:
    """Export a QAT model to ONNX with QDQ nodes; parity vs the fake-quant model; latency.

    Args:
        model: a network prepared by :func:`~slimkit.quant.prepare.prepare_qat`.
        path: the ``.onnx`` destination (the fp32 baseline goes next to it as ``*_fp32.onnx``).
        input_size: ``(C, H, W)``.
        opset: ONNX opset (at least 13).
        check_batch: inputs in the parity check (seeded standard normal) when ``inputs`` is
            not given.
        inputs: the parity-check batch (e.g. real images: random inputs sit far from the
            training distribution, where near-tied logits flip more often).
        tolerance: raise ``ValueError`` when ``max_abs_diff`` exceeds it (the file is kept).
        min_agreement: raise ``ValueError`` when the top-class agreement between ONNX Runtime
            and the fake-quant model is below it (classification outputs).
        latency: also export the float model and time both files in ONNX Runtime.
        batch_sizes: batch sizes timed.
        threads: ONNX Runtime threads (default: torch's).

    Example:
        See the module docstring.
    """
    if opset < 13:
        raise ValueError(f"opset: {opset} is too low for per-channel QDQ; allowed: >= 13")
    path = Path(path)
    qdq = to_qdq_module(model)
    export_onnx(qdq, path, input_size, opset=opset)
    threads = threads or torch.get_num_threads()
    session = ort_session(path, threads=threads)
    name = session.get_inputs()[0].name
    with eval_mode(model), torch.no_grad():
        x = (
            inputs.float()
            if inputs is not None
            else make_input(model, input_size, check_batch, seed=1)
        )
        ref = model(x).float().cpu().numpy()
    with torch.no_grad():
        folded = qdq(x.cpu().contiguous()).numpy()
    got = session.run(None, {name: x.cpu().contiguous().numpy()})[0]
    diff = float(np.abs(got.astype(np.float64) - ref.astype(np.float64)).max())
    export_diff = float(np.abs(got.astype(np.float64) - folded.astype(np.float64)).max())
    agreement = float((got.argmax(1) == ref.argmax(1)).mean())
    opset_used = int(
        next(i.version for i in __import__("onnx").load(str(path)).opset_import if i.domain == "")
    )
    try:
        code_diff: int | None = max_code_difference(model, path, x.cpu(), threads)
    except ValueError:
        code_diff = None
    result = QDQExportResult(
        str(path), diff, opset_used, _count_qdq(path), max_abs_diff_export=export_diff,
        argmax_agreement=agreement, max_code_diff=code_diff,
    )  # fmt: skip
    if latency:
        fp32 = path.with_name(path.stem + "_fp32.onnx")
        export_onnx(to_float_module(model), fp32, input_size, opset=opset)
        result.fp32_path = str(fp32)
        probe = to_float_module(model)
        for tag, file in (("fp32", fp32), ("int8", path)):
            times = measure_latency(
                probe, input_size, batch_sizes=batch_sizes, threads=threads, onnx_path=file,
                runtimes=("ort",),
            )  # fmt: skip
            result.latency_ms.update(
                {k.replace("ort_", f"ort_{tag}_"): v for k, v in times.items()}
            )
    if min_agreement is not None and not agreement >= min_agreement:
        raise ValueError(
            f"qdq_min_agreement: ONNX Runtime and the fake-quant model agree on the top class of "
            f"{agreement:.1%} of {len(x)} inputs, below {min_agreement:.1%} ({path}); on x86 "
            "CPUs without VNNI ORT's u8s8 kernels saturate for 8-bit weights times 8-bit "
            "activations: use act_bits <= 7, or the int8 stage"
        )
    if tolerance is not None and not diff <= tolerance:
        raise ValueError(
            f"tolerance: ONNX Runtime vs fake-quant max_abs_diff {diff:.3g} exceeds "
            f"{tolerance:.3g} ({path})"
        )
    return result
