"""ONNX Runtime latency of several ``.onnx`` files, interleaved so a slow spell hits all alike.

Protocol: one session per file (:func:`slimkit.measure.ort_session`: ``threads`` intra-op
threads, all graph optimizations), ``warmup`` untimed runs per (file, batch), then ``rounds``
passes over the files in turn (A, B, A, B, ...), each pass timing ``repeats`` runs of one batch
and keeping their median; the result is the median over passes. The input is a seeded standard
normal batch in NCHW.

Example:
    >>> import os, tempfile, torch
    >>> from slimkit.measure import export_onnx
    >>> d = tempfile.mkdtemp()
    >>> for n in (2, 8):
    ...     _ = export_onnx(torch.nn.Conv2d(3, n, 3), os.path.join(d, f"c{n}.onnx"), (3, 8, 8))
    >>> lat = interleaved_ort_latency(
    ...     {"a": os.path.join(d, "c2.onnx"), "b": os.path.join(d, "c8.onnx")}, (3, 8, 8),
    ...     batch_sizes=(1,), rounds=2, repeats=3)
    >>> sorted(lat), sorted(lat["a"])
    (['a', 'b'], ['ort_bs1'])
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from slimkit.measure._common import check_input_size, check_positive_int
from slimkit.measure.ort_session import ort_session

__all__ = ["interleaved_ort_latency"]


def interleaved_ort_latency(
    files: Mapping[str, str | Path],
    input_size: tuple[int, int, int],
    *,
    batch_sizes: Sequence[int] = (1, 32),
    threads: int = 2,
    rounds: int = 5,
    repeats: int = 20,
    warmup: int = 5,
) -> dict[str, dict[str, float]]:
    """``{name: {"ort_bs<B>": median ms}}`` for every file, measured in interleaved passes."""
    input_size = check_input_size(input_size)
    batches = [check_positive_int("batch_sizes", b) for b in batch_sizes]
    threads = check_positive_int("threads", threads)
    rounds = check_positive_int("rounds", rounds)
    repeats = check_positive_int("repeats", repeats)
    warmup = check_positive_int("warmup", warmup, minimum=0)
    if not files:
        raise ValueError("files: nothing to measure")
    sessions = {name: ort_session(path, threads) for name, path in files.items()}
    rng = np.random.default_rng(0)
    feeds = {b: rng.standard_normal((b, *input_size), dtype=np.float32) for b in batches}
    for session in sessions.values():
        for b in batches:
            feed = {session.get_inputs()[0].name: feeds[b]}
            for _ in range(warmup):
                session.run(None, feed)
    passes: dict[str, dict[int, list[float]]] = {n: {b: [] for b in batches} for n in sessions}
    for _ in range(rounds):
        for name, session in sessions.items():
            for b in batches:
                feed = {session.get_inputs()[0].name: feeds[b]}
                times = []
                for _ in range(repeats):
                    t0 = time.perf_counter()
                    session.run(None, feed)
                    times.append(time.perf_counter() - t0)
                passes[name][b].append(statistics.median(times) * 1e3)
    return {
        name: {f"ort_bs{b}": statistics.median(runs[b]) for b in batches}
        for name, runs in passes.items()
    }
