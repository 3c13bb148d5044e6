"""The ``int8`` stage: post-training int8 for ONNX Runtime, chosen on held-out training images,
measured against fp32 in the same run.

Recipe form::

    - kind: int8
      calibration_images: 512      # training images (unaugmented, seeded sample) for the ranges
      methods: [minmax]            # activation-range calibrations tried: minmax | percentile | entropy
      formats: [qoperator, qdq]    # containers, both written by ORT's static quantizer
      variants: [plain, reduce_range]   # also: first_layer_float
      activation: u8               # u8 (u8s8 kernels) | s8 (s8s8)
      selection_images: 1000       # the validation split, or training images not calibrated on
      min_fidelity: 0.995          # agreement with the fp32 file a candidate needs to compete on speed
      batch_sizes: [1, 32]
      rounds: 5                    # interleaved latency passes (median)
      filename: model_int8.onnx

What it does (rank 0): exports the current float model (``model_fp32.onnx``, parity-checked),
quantizes it with :func:`slimkit.quant.ort_int8.quantize_onnx_int8` for every combination of
method, format and variant, and scores each candidate with ONNX Runtime on the selection images
(never the test set) by its **fidelity** to the fp32 file: top-1 agreement for classification,
``1 - MSE / Var`` of the fp32 outputs for regression. Label-free, so it stays meaningful when the
selection images are training images a pretrained model has memorized. fp32 and every candidate
are timed in interleaved passes; the fastest candidate (largest batch size) with fidelity >=
``min_fidelity`` wins, or the most faithful one when none reaches it
(:func:`choose_candidate`). The chosen file is evaluated on the whole test split in ONNX Runtime:
those are the run's final metrics (what the int8 model really scores), and ``final.latency_ms``
gets ``ort_fp32_bs<B>`` and ``ort_int8_bs<B>`` from the same passes. The torch model stays float.

Why the variants: on x86 CPUs without VNNI (AVX2 only, like the 2-core machine the benchmarks ran
on) ORT's u8s8 kernels sum pairs of u8 x s8 products in int16 and saturate; 7-bit weights
(``reduce_range``) or a float first layer avoid it (measured: top-1 agreement with fp32 0.990
plain vs 0.997 reduce_range on ResNet-20, ``benchmarks/results/int8_latency.md``).

Report fields: ``chosen``, ``candidates`` (method, format, variant, fidelity, selection metric,
latency, integer share of the optimized graph, op counts), ``latency_ms``, ``speedup_bs<B>``, the
test metrics of the int8 file (``metrics``) and of the fp32 file (``fp32_metrics``).
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import torch

from slimkit.data.loader import make_loader
from slimkit.measure import export_onnx, ort_session
from slimkit.measure.interleaved import interleaved_ort_latency
from slimkit.quant.ort_int8 import quantize_onnx_int8
from slimkit.quant.prepare import is_quantized
from slimkit.stages.config import Int8StageConfig

EVAL_BATCH = 256


def _loader(ctx: Any, dataset: Any) -> Any:
    mean, std = ctx.normalization
    return make_loader(
        dataset, EVAL_BATCH, shuffle=False, augment=None, mean=mean, std=std, channels_last=False
    )


def _images(ctx: Any, dataset: Any) -> list[np.ndarray]:
    return [batch[0].contiguous().numpy() for batch in _loader(ctx, dataset)]


def _split_train(ctx: Any, cfg: Int8StageConfig) -> tuple[Any, Any]:
    """(calibration images, selection images): a seeded sample of the training set, and the
    validation split (or further training images when the recipe has none)."""
    train = ctx.data.train
    order = torch.randperm(len(train), generator=torch.Generator().manual_seed(ctx.recipe.seed))
    calibration = train.subset(order[: cfg.calibration_images])
    if ctx.data.val is not None:
        val = ctx.data.val
        return calibration, val.subset(torch.arange(min(cfg.selection_images, len(val))))
    rest = order[cfg.calibration_images : cfg.calibration_images + cfg.selection_images]
    if len(rest) == 0:
        raise ValueError(
            f"int8.calibration_images: {cfg.calibration_images} uses every training image; "
            "leave some for selecting the format (or carve data.val_fraction)"
        )
    return calibration, train.subset(rest)


def ort_evaluate(
    ctx: Any, path: Any, dataset: Any, threads: int
) -> tuple[dict[str, float], np.ndarray]:
    """The task's metrics of an ONNX file on ``dataset`` and its first output (concatenated),
    from one ONNX Runtime pass."""
    session = ort_session(path, threads)
    name = session.get_inputs()[0].name
    metric = ctx.task.new_metric("cpu")
    outputs = []
    for batch in _loader(ctx, dataset):
        out = session.run(None, {name: batch[0].contiguous().numpy()})[0]
        metric.update(torch.from_numpy(out), batch)
        outputs.append(out)
    return metric.compute(), np.concatenate(outputs)


def fidelity(outputs: np.ndarray, reference: np.ndarray) -> float:
    """Agreement of ``outputs`` with the fp32 ``reference``: the share of equal top classes
    (class scores), else ``1 - MSE / Var(reference)``."""
    if reference.ndim == 2 and reference.shape[1] > 1:
        return float((outputs.argmax(1) == reference.argmax(1)).mean())
    variance = float(np.var(reference))
    mse = float(np.mean((outputs - reference) ** 2))
    return 1.0 - mse / variance if variance > 0 else float(mse == 0)


def choose_candidate(
    candidates: dict[str, dict[str, Any]], min_fidelity: float, key: str
) -> tuple[str, str]:
    """(tag, reason): the fastest candidate at latency ``key`` among those with fidelity >=
    ``min_fidelity``, or the most faithful one when none reaches it.

    Example:
        >>> c = {"a": {"fidelity": 0.99, "latency_ms": {"ort_bs32": 10.0}},
        ...      "b": {"fidelity": 0.998, "latency_ms": {"ort_bs32": 12.0}}}
        >>> choose_candidate(c, 0.995, "ort_bs32")[0]
        'b'
    """
    eligible = [t for t, c in candidates.items() if c["fidelity"] >= min_fidelity]
    if eligible:
        tag = min(eligible, key=lambda t: candidates[t]["latency_ms"][key])
        return tag, f"fastest at {key} with fidelity >= {min_fidelity}"
    tag = max(candidates, key=lambda t: candidates[t]["fidelity"])
    return tag, f"no candidate reached fidelity {min_fidelity}; the most faithful"


def run_int8(ctx: Any, cfg: Int8StageConfig) -> dict[str, Any]:
    """Quantize ``ctx.model`` to int8 for ONNX Runtime; evaluate and time it against fp32."""
    if ctx.task.name not in ("classification", "regression"):
        raise ValueError(
            f"kind: 'int8' evaluates the file in ONNX Runtime for classification and regression; "
            f"task {ctx.task.name!r} is not supported yet"
        )
    if is_quantized(ctx.model.module):
        raise ValueError(
            "kind: 'int8' quantizes a float model; this one went through a 'quantize' stage "
            "(its QDQ export is written by the 'export' stage)"
        )
    if not ctx.dist.is_main:
        return {}
    threads = cfg.threads or torch.get_num_threads()
    module = ctx.model.module.cpu().to(memory_format=torch.contiguous_format).eval()
    fp32 = ctx.path("model_fp32.onnx")
    export_onnx(module, fp32, ctx.model.input_size, opset=cfg.opset, tolerance=1e-3)
    calibration, selection = _split_train(ctx, cfg)
    batches = _images(ctx, calibration)
    head = ctx.task.headline
    _, reference = ort_evaluate(ctx, fp32, selection, threads)
    candidates: dict[str, dict[str, Any]] = {}
    files = {"fp32": fp32}
    for method, fmt, variant in itertools.product(cfg.methods, cfg.formats, cfg.variants):
        tag = f"{method}_{fmt}_{variant}"
        out = ctx.path(f"model_int8_{tag}.onnx")
        made = quantize_onnx_int8(
            fp32, out, batches, fmt=fmt, method=method, activation=cfg.activation,
            reduce_range=variant == "reduce_range", first_layer_float=variant == "first_layer_float",
        )  # fmt: skip
        scores, outputs = ort_evaluate(ctx, out, selection, threads)
        candidates[tag] = {
            "method": method,
            "format": fmt,
            "variant": variant,
            "fidelity": fidelity(outputs, reference),
            "output_mse_vs_fp32": float(np.mean((outputs - reference) ** 2)),
            "selection": {head: scores[head]},
            "integer_fraction": round(made.integer_fraction, 3),
            "ops": made.ops,
        }
        files[tag] = out
        ctx.echo(
            f"int8 {tag}: fidelity to fp32 {candidates[tag]['fidelity']:.4f}, selection {head} "
            f"{candidates[tag]['selection'][head]:.4f}, integer ops {made.integer_fraction:.0%}"
        )
    latency = interleaved_ort_latency(
        files,
        ctx.model.input_size,
        batch_sizes=cfg.batch_sizes,
        threads=threads,
        rounds=cfg.rounds,
        repeats=cfg.repeats,
    )
    for tag, c in candidates.items():
        c["latency_ms"] = latency[tag]
    chosen, reason = choose_candidate(candidates, cfg.min_fidelity, f"ort_bs{max(cfg.batch_sizes)}")
    ctx.path(f"model_int8_{chosen}.onnx").replace(ctx.path(cfg.filename))
    for tag in candidates:  # the losing candidates are described in the record, not kept
        ctx.path(f"model_int8_{tag}.onnx").unlink(missing_ok=True)
    test_int8, _ = ort_evaluate(ctx, ctx.path(cfg.filename), ctx.data.test, threads)
    test_fp32, _ = ort_evaluate(ctx, fp32, ctx.data.test, threads)
    ctx.final.metrics = dict(test_int8)
    ctx.final.headline = {"name": head, "value": test_int8[head]}
    ctx.final.onnx_path = cfg.filename
    lat = {}
    for b in cfg.batch_sizes:
        lat[f"ort_fp32_bs{b}"] = latency["fp32"][f"ort_bs{b}"]
        lat[f"ort_int8_bs{b}"] = latency[chosen][f"ort_bs{b}"]
    ctx.final.latency_ms = dict(lat)
    speedups = {
        f"speedup_bs{b}": round(lat[f"ort_fp32_bs{b}"] / lat[f"ort_int8_bs{b}"], 3)
        for b in cfg.batch_sizes
    }
    ctx.echo(
        f"int8: chose {chosen} ({reason}, on {len(selection)} selection images); "
        f"test {head} {test_int8[head]:.4f} "
        f"(fp32 {test_fp32[head]:.4f}); "
        + ", ".join(f"bs{b} {lat[f'ort_fp32_bs{b}']:.2f} -> {lat[f'ort_int8_bs{b}']:.2f} ms"
                    for b in cfg.batch_sizes)
    )  # fmt: skip
    return {
        "chosen": chosen,
        "reason": reason,
        "candidates": candidates,
        "selection_images": len(selection),
        "calibration_images": len(calibration),
        "latency_ms": lat,
        **speedups,
        head: test_int8[head],
        "metrics": test_int8,
        "fp32_metrics": test_fp32,
        "onnx": cfg.filename,
    }
