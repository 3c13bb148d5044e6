from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from torch import nn

from slimkit.measure import ExportResult, export_onnx, ort_session

SIZE = (3, 16, 16)


def _ort_vs_torch(model: nn.Module, path: str, batch: int) -> float:
    """Max abs difference of the exported file vs the eval-mode model at ``batch``."""
    session = ort_session(path, threads=1)
    x = torch.randn(batch, *SIZE, generator=torch.Generator().manual_seed(batch))
    out = session.run(None, {session.get_inputs()[0].name: x.numpy()})[0]
    model.eval()
    with torch.no_grad():
        ref = model(x).numpy()
    assert out.shape == ref.shape == (batch, 5)
    return float(np.abs(out - ref).max())


def test_parity_bn_residual_concat_pool(tiny_net: nn.Module, tmp_path: Path) -> None:
    tiny_net.train()
    res = export_onnx(tiny_net, tmp_path / "sub" / "net.onnx", SIZE, tolerance=1e-4)
    assert isinstance(res, ExportResult)
    assert Path(res.path).is_file() and res.opset == 17 and res.exporter == "torchscript"
    assert 0.0 <= res.max_abs_diff <= 1e-4 and 0.0 <= res.max_rel_diff <= 1e-4
    assert tiny_net.training  # mode restored
    onnx.checker.check_model(onnx.load(res.path))
    # BN was exported with its running statistics (eval semantics), not batch statistics.
    assert _ort_vs_torch(tiny_net, res.path, 3) <= 1e-4


def test_channels_last_model(tiny_net: nn.Module, tmp_path: Path) -> None:
    net = tiny_net.to(memory_format=torch.channels_last)
    res = export_onnx(net, tmp_path / "cl.onnx", SIZE)
    assert res.max_abs_diff <= 1e-4
    assert _ort_vs_torch(net, res.path, 2) <= 1e-4


def test_dynamic_batch_serves_bs1_and_bs5(tiny_net: nn.Module, tmp_path: Path) -> None:
    res = export_onnx(tiny_net, tmp_path / "dyn.onnx", SIZE, check_batch=3)
    dim0 = ort_session(res.path, threads=1).get_inputs()[0].shape[0]
    assert isinstance(dim0, str)  # symbolic batch axis
    for batch in (1, 5):
        assert _ort_vs_torch(tiny_net, res.path, batch) <= 1e-4


def test_static_batch(tiny_net: nn.Module, tmp_path: Path) -> None:
    res = export_onnx(tiny_net, tmp_path / "static.onnx", SIZE, dynamic_batch=False, check_batch=4)
    assert ort_session(res.path, threads=1).get_inputs()[0].shape == [4, *SIZE]
    assert res.max_abs_diff <= 1e-4


def test_dynamo_exporter(tiny_net: nn.Module, tmp_path: Path) -> None:
    res = export_onnx(tiny_net, tmp_path / "dynamo.onnx", SIZE, exporter="dynamo")
    assert res.exporter == "dynamo" and res.opset >= 18
    assert res.max_abs_diff <= 1e-4
    for batch in (1, 5):
        assert _ort_vs_torch(tiny_net, res.path, batch) <= 1e-4


class _NoisyHead(nn.Module):
    """Adds fresh uniform noise: torch and ONNX Runtime draw different values."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=(2, 3)) + torch.rand_like(x.mean(dim=(2, 3)))


def test_tolerance_raises_but_keeps_file(tmp_path: Path) -> None:
    path = tmp_path / "noisy.onnx"
    res = export_onnx(_NoisyHead(), path, SIZE)
    assert res.max_abs_diff > 1e-3  # recorded, not raised, without a tolerance
    with pytest.raises(ValueError, match="tolerance"):
        export_onnx(_NoisyHead(), path, SIZE, tolerance=1e-6)
    assert path.is_file()


class _Scaled(nn.Module):
    def __init__(self, inner: nn.Module, scale: float) -> None:
        super().__init__()
        self.inner, self.scale = inner, scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.inner(x) * self.scale


def test_relative_difference_is_scale_free(tiny_net: nn.Module, tmp_path: Path) -> None:
    res = export_onnx(_Scaled(tiny_net, 1e7), tmp_path / "big.onnx", SIZE)
    # Outputs of order 1e7: float32 rounding alone makes the absolute difference large...
    assert res.max_rel_diff <= 1e-5
    # ...and the relative one is that difference over max |output| (>= 1e5 here).
    assert res.max_abs_diff == 0.0 or res.max_abs_diff / res.max_rel_diff >= 1e5


def test_bad_arguments(tiny_net: nn.Module, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="did you mean 'dynamo'"):
        export_onnx(tiny_net, tmp_path / "x.onnx", SIZE, exporter="dynamic")
    with pytest.raises(ValueError, match="check_batch"):
        export_onnx(tiny_net, tmp_path / "x.onnx", SIZE, check_batch=0)
    with pytest.raises(ValueError, match="tolerance"):
        export_onnx(tiny_net, tmp_path / "x.onnx", SIZE, tolerance=-1.0)
