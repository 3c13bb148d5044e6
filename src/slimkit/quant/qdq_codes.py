"""The QDQ ONNX file's activation codes vs the fake-quant model's, in quantization steps.

A QDQ export is faithful when every activation quantizer produces the same integer code in ONNX
Runtime as in the torch fake-quant model, up to one step where folding BN moved a value across a
rounding boundary. :func:`max_code_difference` measures that: it exposes the outputs of every
per-tensor ``QuantizeLinear`` of the file (the activation quantizers; weights are per-channel),
runs both on the same batch and compares the codes quantizer by quantizer, in execution order.
ONNX Runtime runs with all graph optimizations, as deployed: on x86 CPUs without VNNI its fused
u8s8 kernels saturate for 8-bit weights times 8-bit activations (see the README), which this
check then reports as codes many steps apart; 7-bit activations or 4-bit weights are exact.

Example:
    >>> import os, tempfile, torch
    >>> from slimkit.models import build_model
    >>> from slimkit.quant.prepare import calibrate, prepare_qat, quant_plan
    >>> from slimkit.quant.export import export_qdq
    >>> torch.manual_seed(0) and None
    >>> m = build_model("resnet8_tiny")
    >>> m = prepare_qat(m, plan=quant_plan(m, weight_bits=4, act_bits=4))
    >>> _ = calibrate(m, [torch.randn(8, 3, 32, 32)], torch.device("cpu"))
    >>> path = os.path.join(tempfile.mkdtemp(), "q.onnx")
    >>> _ = export_qdq(m.eval(), path, (3, 32, 32), latency=False)
    >>> max_code_difference(m, path, torch.randn(5, 3, 32, 32)) <= 1
    True
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import torch
from torch import nn

from slimkit.measure._common import eval_mode
from slimkit.measure.ort_session import ort_session
from slimkit.quant.quantizers import ActQuantizer

__all__ = ["max_code_difference"]


def _torch_codes(model: nn.Module, x: torch.Tensor) -> list[np.ndarray]:
    """Integer codes of every distinct activation quantization of ``model`` on ``x``, in call
    order (two quantizers with the same input and step, e.g. a block's first conv and its
    downsampling shortcut, are one node in the exported file)."""
    codes: list[np.ndarray] = []
    seen: set[tuple] = set()

    def hook(module: ActQuantizer, inputs: tuple, output: torch.Tensor) -> None:
        step = float(module.step.detach().clamp(min=module.min_step))
        key = (inputs[0].data_ptr(), tuple(inputs[0].shape), step, module.code_range)
        if key in seen:  # the exporter merges identical QuantizeLinear nodes (same input, step)
            return
        seen.add(key)
        codes.append(torch.round(output.detach().float() / step).cpu().numpy().astype(np.int64))

    handles = [
        m.register_forward_hook(hook) for m in model.modules() if isinstance(m, ActQuantizer)
    ]
    try:
        with eval_mode(model), torch.no_grad():
            model(x)
    finally:
        for h in handles:
            h.remove()
    return codes


def _ort_codes(path: str | Path, x: np.ndarray, threads: int) -> list[np.ndarray]:
    """Outputs of the file's per-tensor ``QuantizeLinear`` nodes on ``x``, in graph order."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(path))
    graph = model.graph
    constants = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    for node in graph.node:
        if node.op_type == "Constant" and node.attribute and node.attribute[0].HasField("t"):
            constants[node.output[0]] = numpy_helper.to_array(node.attribute[0].t)
    names = [
        n.output[0]
        for n in graph.node
        if n.op_type == "QuantizeLinear"
        and n.input[1] in constants
        and np.asarray(constants[n.input[1]]).size == 1
    ]
    existing = {o.name for o in graph.output}
    for name in names:
        if name not in existing:
            graph.output.append(onnx.ValueInfoProto(name=name))
    with tempfile.TemporaryDirectory() as tmp:  # the deployed settings: all graph optimizations
        probe = Path(tmp) / "codes.onnx"
        onnx.save(model, str(probe))
        session = ort_session(probe, threads)
        out = session.run(names, {session.get_inputs()[0].name: x})
    return [np.asarray(o).astype(np.int64) for o in out]


def max_code_difference(
    model: nn.Module, path: str | Path, x: torch.Tensor, threads: int | None = None
) -> int:
    """Largest ``|code_ORT - code_torch|`` over every activation quantizer and element.

    Args:
        model: the fake-quant model (prepared by :func:`~slimkit.quant.prepare.prepare_qat`).
        path: its QDQ export (:func:`~slimkit.quant.export.export_qdq`).
        x: a batch both run on.
        threads: ONNX Runtime threads (default: torch's).

    Raises:
        ValueError: when the file's activation quantizers cannot be matched to the model's one
            by one (a different count or shape), naming the first mismatch.
    """
    here = _torch_codes(model, x)
    there = _ort_codes(path, x.cpu().contiguous().numpy(), threads or torch.get_num_threads())
    if len(here) != len(there):
        raise ValueError(
            f"qdq codes: the model has {len(here)} activation quantizers, {path} has "
            f"{len(there)} per-tensor QuantizeLinear nodes"
        )
    worst = 0
    for i, (a, b) in enumerate(zip(here, there, strict=True)):
        if a.shape != b.shape:
            raise ValueError(
                f"qdq codes: quantizer {i} has shape {a.shape} in torch, {b.shape} in {path}"
            )
        if a.size:
            worst = max(worst, int(np.abs(a - b).max()))
    return worst
