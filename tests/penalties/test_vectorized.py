"""Whole-tensor operation: large tensors, all float dtypes, every registered penalty, any device."""

from __future__ import annotations

import pytest
import torch

from slimkit.penalties import PENALTIES, build_penalty

KWARGS = {"lp": {"p": 0.3}}
DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", PENALTIES.names())
def test_prox_on_a_conv_sized_tensor(name: str, device: str) -> None:
    pen = build_penalty(name, **KWARGS.get(name, {}))
    gen = torch.Generator().manual_seed(0)
    w = (torch.randn(64, 64, 3, 3, generator=gen) * 0.1).to(device)  # a conv weight
    for x in (w.reshape(64, 576), w, w.double(), w.half()):
        out = pen.prox(x, 1e-3)
        assert out.shape == x.shape and out.dtype == x.dtype and out.device == x.device
        assert torch.isfinite(out).all()
        assert out is not x
        v = pen.value(x)
        assert v.dim() == 0 and torch.isfinite(v)
    # float32 and float64 agree (up to float32 rounding) away from thresholds.
    x32 = w.reshape(64, 576)
    torch.testing.assert_close(
        pen.prox(x32, 1e-3).double(), pen.prox(x32.double(), 1e-3), atol=1e-4, rtol=1e-3
    )


def test_prox_does_not_modify_its_input() -> None:
    x = torch.randn(64, 576)
    before = x.clone()
    for name in PENALTIES.names():
        build_penalty(name, **KWARGS.get(name, {})).prox(x, 0.05)
    assert torch.equal(x, before)
