"""Measurement: parameter counts, MACs, ONNX export with parity, and CPU latency.

MACs are multiply-accumulates (FLOPs = 2 x MACs). Latency is measured the same way for every
model: torch eager and ONNX Runtime on CPU, batch 1 and 32, fixed threads, warm-up, median.

Example:
    >>> from torch import nn
    >>> from slimkit.measure import count_macs, count_params
    >>> net = nn.Sequential(nn.Flatten(), nn.Linear(12, 5))
    >>> count_params(net), count_macs(net, (3, 2, 2))
    (65, 60)

Public names are re-exported lazily (:mod:`slimkit._lazy`): importing the package imports
no submodule until a name is used.
"""

from slimkit._lazy import lazy_exports

_EXPORTS = {
    "measure_latency": "slimkit.measure.latency",
    "paired_ort_latency": "slimkit.measure.latency",
    "count_macs": "slimkit.measure.macs",
    "macs_by_module": "slimkit.measure.macs",
    "fft_macs": "slimkit.measure.macs",
    "count_macs_and_fft": "slimkit.measure.macs",
    "ExportResult": "slimkit.measure.onnx_export",
    "export_onnx": "slimkit.measure.onnx_export",
    "ort_session": "slimkit.measure.ort_session",
    "count_params": "slimkit.measure.params",
    "measure_model": "slimkit.measure.summary",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
