"""ONNX Runtime session construction with slimkit's fixed measurement settings."""

from __future__ import annotations

from pathlib import Path

import onnxruntime as ort


def ort_session(path: str | Path, threads: int) -> ort.InferenceSession:
    """A CPU ONNX Runtime session: ``threads`` intra-op threads, 1 inter-op, all graph opts.

    Args:
        path: an ``.onnx`` file.
        threads: intra-op thread count.

    Returns:
        The session.

    Example:
        >>> import os, tempfile, torch
        >>> with tempfile.TemporaryDirectory() as d:
        ...     p = os.path.join(d, "id.onnx")
        ...     torch.onnx.export(torch.nn.ReLU(), (torch.zeros(1, 2),), p, dynamo=False)
        ...     ort_session(p, threads=1).get_inputs()[0].shape
        [1, 2]
    """
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.log_severity_level = 3
    # denormal floats (tiny activations of heavily regularized models) are ~100x slower on CPUs;
    # flush them to zero, as the torch side does (torch.set_flush_denormal in measure_latency)
    opts.add_session_config_entry("session.set_denormal_as_zero", "1")
    return ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])
