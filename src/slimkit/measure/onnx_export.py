"""ONNX export with an ONNX Runtime parity check."""

from __future__ import annotations

import contextlib
import io
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from slimkit.errors import first_line
from slimkit.measure._common import (
    check_choices,
    check_input_size,
    check_positive_int,
    eval_mode,
    flatten_tensors,
    make_input,
)
from slimkit.measure.interleaved import interleaved_ort_latency
from slimkit.measure.ort_session import ort_session
from slimkit.models.fourier.spectral import fft_backend, spectral_modules

EXPORTERS = ("torchscript", "dynamo")
FFT_PATHS = ("auto", "dft", "matmul")
FFT_PARITY = 1e-4  # the DFT path is kept when ORT matches torch this closely (x max(1, |output|))
FFT_CHOICE_BATCH = 8  # fft="auto" keeps whichever FFT path ONNX Runtime runs faster at this batch


@dataclass
class ExportResult:
    """Outcome of :func:`export_onnx`.

    Attributes:
        path: the written ``.onnx`` file.
        max_abs_diff: largest absolute difference between torch and ONNX Runtime outputs over
            the checked batches.
        opset: ONNX opset of the written file.
        exporter: ``"torchscript"`` or ``"dynamo"``.
        max_rel_diff: ``max_abs_diff`` divided by the largest absolute torch output value; the
            scale-free figure to compare across models (untrained deep nets can emit logits of
            1e6 and more, where float32 rounding alone gives a large absolute difference).
        fft_path: for a model with FFTs, how they were exported: ``"dft"`` (ONNX ``DFT`` op) or
            ``"matmul"`` (exact DFT-matrix products); ``None`` for a model without FFTs.
        fft_latency_ms: with ``fft="auto"`` and both paths exported, each path's ONNX Runtime
            latency (ms) at batch :data:`FFT_CHOICE_BATCH`; the faster one was kept.
    """

    path: str
    max_abs_diff: float
    opset: int
    exporter: str = "torchscript"
    max_rel_diff: float = 0.0
    fft_path: str | None = None
    fft_latency_ms: dict[str, float] = field(default_factory=dict)


def _export_torchscript(
    model: nn.Module, x: torch.Tensor, path: Path, opset: int, n_out: int, dynamic: bool
) -> None:
    out_names = ["output"] if n_out == 1 else [f"output_{i}" for i in range(n_out)]
    axes = {name: {0: "batch"} for name in ["input", *out_names]} if dynamic else None
    with warnings.catch_warnings():
        # torch >= 2.9 flags the TorchScript exporter as deprecated; it is still the fast,
        # single-file, opset-17-capable path for the CNNs slimkit exports.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model,
            (x,),
            str(path),
            dynamo=False,
            opset_version=opset,
            input_names=["input"],
            output_names=out_names,
            dynamic_axes=axes,
            do_constant_folding=True,
        )


def _export_dynamo(
    model: nn.Module, x: torch.Tensor, path: Path, opset: int, dynamic: bool
) -> None:
    shapes = ({0: torch.export.Dim("batch", min=1)},) if dynamic else None
    # the dynamo exporter prints its progress ("[torch.onnx] ...") to stdout whatever `verbose`
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        program = torch.onnx.export(
            model,
            (x,),
            dynamo=True,
            opset_version=opset,
            input_names=["input"],
            dynamic_shapes=shapes,
            verbose=False,
        )
    program.save(str(path), external_data=False)


def _write(
    model: nn.Module, x: torch.Tensor, path: Path, opset: int, n_out: int, dynamic: bool,
    exporter: str,
) -> None:  # fmt: skip
    try:
        if exporter == "torchscript":
            _export_torchscript(model, x, path, opset, n_out, dynamic)
        else:
            _export_dynamo(model, x, path, max(opset, 18), dynamic)
    except (RuntimeError, TypeError, ValueError, NotImplementedError) as exc:
        raise ExportError(
            f"export: torch.onnx ({exporter}, opset {opset}) could not export "
            f"{type(model).__name__}: {first_line(exc, 200)}"
        ) from None


def _parity(
    model: nn.Module, path: Path, input_size: tuple[int, int, int], batches: list[int]
) -> tuple[float, float]:
    """Largest ``|ORT - torch|`` and largest ``|torch|`` over seeded inputs of each batch size."""
    session = ort_session(path, threads=torch.get_num_threads())
    input_name = session.get_inputs()[0].name
    max_diff = 0.0
    max_ref = 0.0
    for b in batches:
        xb = make_input(model, input_size, b, seed=1)
        ref = [t.detach().float().cpu().numpy() for t in flatten_tensors(model(xb))]
        got = session.run(None, {input_name: xb.cpu().contiguous().numpy()})
        if len(got) != len(ref):
            raise RuntimeError(
                f"export_onnx: ONNX model has {len(got)} outputs, torch model {len(ref)}"
            )
        for r, g in zip(ref, got, strict=True):
            _check_finite(r, g, path)
            diff = np.abs(np.asarray(g, dtype=np.float64) - r.astype(np.float64))
            if diff.size:
                max_diff = max(max_diff, float(diff.max()))
                max_ref = max(max_ref, float(np.abs(r).max()))
    return max_diff, max_ref


def _write_dft(
    model: nn.Module, x: torch.Tensor, write: tuple[Path, int, int, bool],
    input_size: tuple[int, int, int], batches: list[int],
) -> tuple[tuple[float, float] | None, str]:  # fmt: skip
    """Export with ONNX ``DFT`` ops to ``write[0]``; its parity, or ``None`` and why it failed."""
    try:
        _write(model, x, *write, "dynamo")
        max_diff, max_ref = _parity(model, write[0], input_size, batches)
    except Exception as exc:  # exporter or runtime without DFT support: the caller falls back
        return None, first_line(exc, 160)
    if max_diff <= FFT_PARITY * max(1.0, max_ref):
        return (max_diff, max_ref), ""
    return None, f"ONNX Runtime differs from torch by {max_diff:.3g}"


def _write_spectral(
    model: nn.Module, x: torch.Tensor, write: tuple[Path, int, int, bool], fft: str,
    exporter: str, input_size: tuple[int, int, int], batches: list[int],
) -> tuple[str, tuple[float, float] | None, dict[str, float]]:  # fmt: skip
    """Export a model with FFTs by the ``fft`` path.

    Returns the path written (``dft``/``matmul``), the DFT file's already measured parity (else
    ``None``) and, for ``auto`` when both paths export, both files' ORT latency at batch
    :data:`FFT_CHOICE_BATCH` (a static-batch file: at its own batch; the faster one is kept).
    """
    path = write[0]
    dft_parity, dft_error = None, ""
    if fft in ("auto", "dft"):
        dft_file = path.with_name(path.stem + ".dft.onnx") if fft == "auto" else path
        dft_parity, dft_error = _write_dft(model, x, (dft_file, *write[1:]), input_size, batches)
        if fft == "dft":
            if dft_parity is None:
                raise ExportError(f"export: the DFT path failed ({dft_error}); try fft: matmul")
            return "dft", dft_parity, {}
    first = spectral_modules(model)[0]
    layer = next(n for n, m in model.named_modules() if m is first)
    try:
        with fft_backend(model, "matmul"):
            _write(model, x, *write, exporter)
    except ExportError as exc:
        if dft_parity is not None:  # auto: the DFT file is the only one that exported
            dft_file.replace(path)
            return "dft", dft_parity, {}
        raise ExportError(
            f"export: layer {layer or type(model).__name__!r} cannot be exported with FFTs: "
            f"DFT path: {dft_error or 'not tried'}; matmul path: {first_line(exc, 160)}"
        ) from None
    if dft_parity is None:
        if fft == "auto":
            dft_file.unlink(missing_ok=True)
        return "matmul", None, {}
    batch = FFT_CHOICE_BATCH if write[3] else int(x.shape[0])  # a static file takes its batch
    timed = interleaved_ort_latency(
        {"dft": dft_file, "matmul": path}, input_size, batch_sizes=(batch,),
        threads=torch.get_num_threads(), rounds=3, repeats=5, warmup=2,
    )  # fmt: skip
    latency = {name: round(t[f"ort_bs{batch}"], 3) for name, t in timed.items()}
    if latency["dft"] < latency["matmul"]:
        dft_file.replace(path)
        return "dft", dft_parity, latency
    dft_file.unlink()
    return "matmul", None, latency


def _file_opset(path: Path) -> int:
    import onnx

    proto = onnx.load(str(path), load_external_data=False)
    for imp in proto.opset_import:
        if imp.domain in ("", "ai.onnx"):
            return int(imp.version)
    raise RuntimeError(f"{path}: no default-domain opset in the exported file")


class ExportError(ValueError):
    """The export failed or the exported model is unusable (one-line message)."""


def _check_finite(ref: np.ndarray, got: np.ndarray, path: Path) -> None:
    """NaN or infinity in either output means the parity check cannot pass."""
    for name, values in (("torch", ref), ("ONNX Runtime", np.asarray(got))):
        if np.issubdtype(values.dtype, np.floating) and not np.isfinite(values).all():
            bad = int((~np.isfinite(values)).sum())
            raise ExportError(
                f"export: the {name} output has {bad} NaN/Inf values of {values.size} "
                f"({path}); the model is not usable"
            )


def export_onnx(
    model: nn.Module,
    path: str | Path,
    input_size: tuple[int, int, int],
    *,
    opset: int = 17,
    dynamic_batch: bool = True,
    check_batch: int = 2,
    tolerance: float | None = None,
    exporter: str = "torchscript",
    fft: str = "auto",
) -> ExportResult:
    """Export ``model`` to ONNX and check it against torch with ONNX Runtime (CPU).

    The model is exported in eval mode (each submodule's flag restored afterwards) with one input
    named ``input`` of shape ``(batch, C, H, W)``; with ``dynamic_batch`` the batch axis of the
    input and of every output is symbolic, so one file serves batch 1 and batch 32. Parity is
    measured on a seeded random input of ``check_batch`` samples (and also of 1 sample when the
    batch is dynamic) with ORT graph optimizations enabled, as when deployed.

    Exporters: ``"torchscript"`` (default; ``torch.onnx.export(dynamo=False)``: sub-second,
    one self-contained file, any opset >= 7) or ``"dynamo"`` (``torch.export`` based; slower,
    needs opset >= 18, so a lower request is raised to 18 and the result reports it).

    Args:
        model: the network (channels_last weights are fine; the file takes NCHW input).
        path: destination ``.onnx`` file; parent folders are created.
        input_size: per-sample input shape ``(C, H, W)``.
        opset: requested ONNX opset.
        dynamic_batch: make the batch axis symbolic.
        check_batch: batch size of the parity check (and of the traced example input when the
            batch is static).
        tolerance: if given, raise ``ValueError`` when ``max_abs_diff`` exceeds it (the file
            is kept).
        exporter: ``"torchscript"`` or ``"dynamo"``.
        fft: for models with FFTs (modules declaring ``fft_backend``, e.g. the AFF mixer):
            ``"dft"`` exports them as ONNX ``DFT`` ops (dynamo exporter; the TorchScript exporter
            has no FFT), ``"matmul"`` as exact DFT-matrix products (any exporter and opset), and
            ``"auto"`` exports both, drops a path whose exporter or ONNX Runtime fails or whose
            parity exceeds :data:`FFT_PARITY`, and keeps the one ONNX Runtime runs faster
            (measured on the CIFAR Fourier models: the matmul path, 2.1-2.5x faster than ORT's
            ``DFT`` at batch 32, ``benchmarks/results/fourier_mixer_ort.md``). ``ExportResult.fft_path``
            says which was written, ``fft_latency_ms`` what was measured.

    Returns:
        An :class:`ExportResult` with the path, the max absolute difference and the opset.

    Example:
        >>> import tempfile, os
        >>> from torch import nn
        >>> net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(144, 2))
        >>> with tempfile.TemporaryDirectory() as d:
        ...     res = export_onnx(net, os.path.join(d, "net.onnx"), (3, 8, 8))
        >>> res.max_abs_diff < 1e-5, res.opset
        (True, 17)
    """
    input_size = check_input_size(input_size)
    check_batch = check_positive_int("check_batch", check_batch)
    opset = check_positive_int("opset", opset, minimum=7)
    (exporter,) = check_choices("exporter", [exporter], EXPORTERS)
    (fft,) = check_choices("fft", [fft], FFT_PATHS)
    if tolerance is not None and not tolerance >= 0:
        raise ValueError(f"tolerance: expected a number >= 0 or None, got {tolerance!r}")
    path = Path(path)
    if path.is_dir():
        raise ExportError(f"export: {path} is a directory; give a file path, e.g. model.onnx")
    path.parent.mkdir(parents=True, exist_ok=True)

    # Trace with batch 2 when dynamic: batch 1 invites specializations (squeeze of the batch axis).
    trace_batch = 2 if dynamic_batch else check_batch
    check_batches = sorted({check_batch, 1}) if dynamic_batch else [check_batch]
    with eval_mode(model), torch.no_grad():
        x = make_input(model, input_size, trace_batch, seed=0)
        n_out = len(flatten_tensors(model(x)))
        if n_out == 0:
            raise ValueError("model: forward returned no tensors; nothing to export")
        write = (path, opset, n_out, dynamic_batch)
        fft_path, parity, fft_latency = None, None, {}
        if spectral_modules(model):
            fft_path, parity, fft_latency = _write_spectral(
                model, x, write, fft, exporter, input_size, check_batches
            )
        else:
            _write(model, x, *write, exporter)
        max_diff, max_ref = parity or _parity(model, path, input_size, check_batches)
    rel = max_diff / max_ref if max_ref > 0 else max_diff
    used = "dynamo" if fft_path == "dft" else exporter
    result = ExportResult(str(path), max_diff, _file_opset(path), used, rel, fft_path, fft_latency)
    if tolerance is not None and not max_diff <= tolerance:
        raise ValueError(
            f"tolerance: ONNX parity max_abs_diff {max_diff:.3g} exceeds tolerance "
            f"{tolerance:.3g} ({path})"
        )
    return result
