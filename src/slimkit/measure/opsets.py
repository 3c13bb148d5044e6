"""The ONNX opsets the installed torch exporter writes, read without importing torch.

``slimkit validate`` must stay torch-free (sub-second), yet an ``export.opset`` the exporter
cannot write should fail there, not after training. The bounds are read from the installed
``torch/onnx/_constants.py`` as text (``ONNX_MIN_OPSET`` and
``ONNX_TORCHSCRIPT_EXPORTER_MAX_OPSET``, the exporter :func:`slimkit.measure.export_onnx` uses);
when torch is missing or the file moved, a conservative fallback range is returned.

Example:
    >>> low, high = exporter_opsets()
    >>> low <= 17 <= high
    True
"""

from __future__ import annotations

import ast
import functools
from importlib import metadata

__all__ = ["exporter_opsets", "FALLBACK_OPSETS"]

FALLBACK_OPSETS = (7, 20)


@functools.cache
def exporter_opsets() -> tuple[int, int]:
    """(lowest, highest) opset the installed torch's TorchScript ONNX exporter writes."""
    try:
        text = metadata.distribution("torch").locate_file("torch/onnx/_constants.py").read_text()
    except (metadata.PackageNotFoundError, OSError):
        return FALLBACK_OPSETS
    values: dict[str, int] = {}
    for node in ast.parse(text).body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
            for target in node.targets:
                if isinstance(target, ast.Name) and isinstance(node.value.value, int):
                    values[target.id] = node.value.value
    low = values.get("ONNX_MIN_OPSET", FALLBACK_OPSETS[0])
    high = values.get(
        "ONNX_TORCHSCRIPT_EXPORTER_MAX_OPSET", values.get("ONNX_MAX_OPSET", FALLBACK_OPSETS[1])
    )
    return int(low), int(high)
