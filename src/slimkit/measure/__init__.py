"""Measurement: parameter counts, MACs, ONNX export with parity, and CPU latency.

MACs are multiply-accumulates (FLOPs = 2 x MACs). Latency is measured the same way for every
model: torch eager and ONNX Runtime on CPU, batch 1 and 32, fixed threads, warm-up, median.

Example:
    >>> from torch import nn
    >>> from slimkit.measure import count_macs, count_params
    >>> net = nn.Sequential(nn.Flatten(), nn.Linear(12, 5))
    >>> count_params(net), count_macs(net, (3, 2, 2))
    (65, 60)
"""

from slimkit.measure.latency import measure_latency
from slimkit.measure.macs import count_macs, macs_by_module
from slimkit.measure.onnx_export import ExportResult, export_onnx
from slimkit.measure.ort_session import ort_session
from slimkit.measure.params import count_params
from slimkit.measure.summary import measure_model

__all__ = [
    "ExportResult",
    "count_macs",
    "count_params",
    "export_onnx",
    "macs_by_module",
    "measure_latency",
    "measure_model",
    "ort_session",
]
