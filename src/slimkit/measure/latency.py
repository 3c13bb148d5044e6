"""Wall-clock latency on torch eager and ONNX Runtime (CPU), measured the same way every time."""

from __future__ import annotations

import math
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import torch
from torch import nn

from slimkit.measure._common import (
    check_choices,
    check_input_size,
    check_positive_int,
    eval_mode,
    make_input,
    model_device_dtype,
    uses_channels_last,
)
from slimkit.measure.onnx_export import export_onnx
from slimkit.measure.ort_session import ort_session

RUNTIMES = ("torch", "ort")
_RUNTIME_HINTS = {"onnx": "ort", "onnxruntime": "ort", "eager": "torch", "pytorch": "torch"}


def _median_ms(
    fn: Callable[[], object], warmup: int, repeats: int, budget_s: float | None
) -> float:
    """Median wall time of ``fn`` in milliseconds after ``warmup`` untimed calls.

    With ``budget_s``, timing stops early once the timed calls have used ``budget_s`` seconds,
    but never before ``min(3, repeats)`` calls.
    """
    for _ in range(warmup):
        fn()
    times: list[float] = []
    spent = 0.0
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        dt = time.perf_counter() - t0
        times.append(dt)
        spent += dt
        if budget_s is not None and spent >= budget_s and len(times) >= min(3, repeats):
            break
    return statistics.median(times) * 1e3


def _check_ort_batch(session: object, path: Path, batch_sizes: Sequence[int]) -> None:
    dim0 = session.get_inputs()[0].shape[0]  # type: ignore[attr-defined]
    if isinstance(dim0, int) and any(b != dim0 for b in batch_sizes):
        raise ValueError(
            f"onnx_path: {path} has a fixed batch of {dim0}; batch_sizes {list(batch_sizes)} "
            "need a file exported with dynamic_batch=True"
        )


def measure_latency(
    model: nn.Module,
    input_size: tuple[int, int, int],
    *,
    batch_sizes: Sequence[int] = (1, 32),
    threads: int = 2,
    warmup: int = 5,
    repeats: int = 20,
    onnx_path: str | Path | None = None,
    runtimes: Sequence[str] = ("torch", "ort"),
    budget_s: float | None = 5.0,
) -> dict[str, float]:
    """Median milliseconds per forward pass for each runtime and batch size, on CPU.

    Protocol (identical for every model): eval mode, fixed thread count, ``warmup`` untimed
    calls, then the median of ``repeats`` timed calls on a seeded random input.

    * ``torch``: eager, ``torch.inference_mode()``, ``torch.set_num_threads(threads)``
      (restored afterwards); the input is channels_last when the model's conv weights are.
      Denormal floats are flushed to zero (``torch.set_flush_denormal(True)``, left on).
    * ``ort``: ONNX Runtime ``CPUExecutionProvider`` with ``intra_op_num_threads=threads``,
      ``inter_op_num_threads=1``, all graph optimizations and denormals as zero. Without ``onnx_path`` the model is
      exported (dynamic batch) to a temporary file that is deleted afterwards.

    Adaptive repeats: with ``budget_s`` set, the timed calls of one (runtime, batch) pair stop
    once they have used ``budget_s`` seconds (after at least 3), so large models stay bounded;
    small models such as a CIFAR ResNet-20 never reach the default budget and get all repeats.

    Args:
        model: the network, on CPU. Each submodule's train/eval flag is restored.
        input_size: per-sample input shape ``(C, H, W)``.
        batch_sizes: batch sizes to time.
        threads: intra-op threads for both runtimes.
        warmup: untimed calls before timing.
        repeats: timed calls (the median is reported).
        onnx_path: an existing ``.onnx`` file of this model (dynamic batch) to time with ORT.
        runtimes: any of ``"torch"`` and ``"ort"``.
        budget_s: time budget in seconds per (runtime, batch), or None for exactly ``repeats``.

    Returns:
        ``{"<runtime>_bs<batch>": median_ms}``, e.g. ``{"torch_bs1": .., "torch_bs32": ..,
        "ort_bs1": .., "ort_bs32": ..}``.

    Example:
        >>> from torch import nn
        >>> net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Flatten(), nn.Linear(144, 2))
        >>> lat = measure_latency(net, (3, 8, 8), batch_sizes=(1, 4), warmup=1, repeats=3)
        >>> sorted(lat), all(v > 0 for v in lat.values())
        (['ort_bs1', 'ort_bs4', 'torch_bs1', 'torch_bs4'], True)
    """
    input_size = check_input_size(input_size)
    if isinstance(batch_sizes, int) or not batch_sizes:
        raise ValueError(f"batch_sizes: expected a non-empty sequence of ints, got {batch_sizes!r}")
    batches = [check_positive_int("batch_sizes", b) for b in batch_sizes]
    threads = check_positive_int("threads", threads)
    warmup = check_positive_int("warmup", warmup, minimum=0)
    repeats = check_positive_int("repeats", repeats)
    chosen = check_choices("runtimes", runtimes, RUNTIMES, _RUNTIME_HINTS)
    if budget_s is not None and not budget_s > 0:
        raise ValueError(
            f"budget_s: expected a positive number of seconds or None, got {budget_s!r}"
        )
    device, _ = model_device_dtype(model)
    if device.type != "cpu":
        raise ValueError(f"model: latency is measured on CPU, but the model is on {device}")
    if onnx_path is not None and not Path(onnx_path).is_file():
        raise ValueError(f"onnx_path: no such file {str(onnx_path)!r}")

    result: dict[str, float] = {}
    if "torch" in chosen:
        channels_last = uses_channels_last(model)
        prev_threads = torch.get_num_threads()
        torch.set_num_threads(threads)
        torch.set_flush_denormal(True)
        try:
            with eval_mode(model), torch.inference_mode():
                for b in batches:
                    x = make_input(model, input_size, b, channels_last=channels_last)
                    result[f"torch_bs{b}"] = _median_ms(
                        lambda x=x: model(x), warmup, repeats, budget_s
                    )
        finally:
            torch.set_num_threads(prev_threads)

    if "ort" in chosen:
        with tempfile.TemporaryDirectory(prefix="slimkit-onnx-") as tmp:
            path = Path(onnx_path) if onnx_path is not None else Path(tmp) / "model.onnx"
            if onnx_path is None:
                export_onnx(model, path, input_size, dynamic_batch=True)
            session = ort_session(path, threads)
            _check_ort_batch(session, path, batches)
            name = session.get_inputs()[0].name
            for b in batches:
                # ORT takes plain NCHW memory regardless of the torch model's layout.
                x = make_input(model, input_size, b, channels_last=False).numpy()
                feed = {name: x}
                result[f"ort_bs{b}"] = _median_ms(
                    lambda feed=feed: session.run(None, feed), warmup, repeats, budget_s
                )
            del session

    bad = {k: v for k, v in result.items() if not (math.isfinite(v) and v > 0)}
    if bad:
        raise RuntimeError(f"measure_latency: non-positive or non-finite timings {bad}")
    return {f"{rt}_bs{b}": result[f"{rt}_bs{b}"] for rt in chosen for b in batches}


def paired_ort_latency(
    onnx_paths: Sequence[str | Path],
    input_size: tuple[int, int, int],
    *,
    batch_size: int = 1,
    threads: int = 2,
    warmup: int = 2,
    block: int = 5,
    rounds: int = 6,
) -> list[float]:
    """Median ORT milliseconds of several ONNX files timed in alternating blocks, for a fair ratio.

    ``measure_latency`` times one model after another, so a machine that slows down in between
    (another job, frequency scaling) biases the ratio of two timings. Here each round times every
    file for one block (the order alternates between rounds), so slow phases hit all of them
    alike. Each block opens its own session and closes it afterwards: two live sessions would
    compete, the idle one's thread pool spin-waiting on the cores the other one needs (measured:
    alternating single runs of two live sessions doubled a ResNet-20's batch-32 time). Same
    session settings and seeded input as ``measure_latency``.

    Args:
        onnx_paths: ``.onnx`` files taking one ``(batch, C, H, W)`` float input.
        input_size: per-sample input shape ``(C, H, W)``.
        batch_size: the batch to time (the files need a dynamic batch axis or this batch).
        threads: ORT intra-op threads.
        warmup: untimed runs at the start of each block.
        block: timed runs per block.
        rounds: blocks per file (the median over all ``rounds x block`` runs is reported).

    Returns:
        The median milliseconds per file, in the order given.

    Example:
        >>> import tempfile, os
        >>> from torch import nn
        >>> with tempfile.TemporaryDirectory() as d:
        ...     small, big = os.path.join(d, "s.onnx"), os.path.join(d, "b.onnx")
        ...     _ = export_onnx(nn.Conv2d(3, 4, 3), small, (3, 16, 16))
        ...     _ = export_onnx(nn.Conv2d(3, 64, 3), big, (3, 16, 16))
        ...     ms = paired_ort_latency([small, big], (3, 16, 16), batch_size=8, rounds=2)
        >>> len(ms), all(m > 0 for m in ms)
        (2, True)
    """
    input_size = check_input_size(input_size)
    batch_size = check_positive_int("batch_size", batch_size)
    threads = check_positive_int("threads", threads)
    warmup = check_positive_int("warmup", warmup, minimum=0)
    block = check_positive_int("block", block)
    rounds = check_positive_int("rounds", rounds)
    paths = [Path(p) for p in onnx_paths]
    if not paths:
        raise ValueError("onnx_paths: expected at least one .onnx file, got none")
    for path in paths:
        if not path.is_file():
            raise ValueError(f"onnx_paths: no such file {str(path)!r}")
    gen = torch.Generator().manual_seed(0)
    x = torch.randn((batch_size, *input_size), generator=gen).numpy()
    times: list[list[float]] = [[] for _ in paths]
    for r in range(rounds):
        order = range(len(paths)) if r % 2 == 0 else reversed(range(len(paths)))
        for i in order:
            session = ort_session(paths[i], threads)
            _check_ort_batch(session, paths[i], [batch_size])
            feed = {session.get_inputs()[0].name: x}
            for _ in range(warmup):
                session.run(None, feed)
            for _ in range(block):
                t0 = time.perf_counter()
                session.run(None, feed)
                times[i].append(time.perf_counter() - t0)
            del session
    return [statistics.median(t) * 1e3 for t in times]
