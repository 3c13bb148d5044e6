"""Quantizers against manual round/clamp, STE gradients, LSQ, activation levels."""

from __future__ import annotations

import pytest
import torch

from slimkit.quant import ActQuantizer, WeightQuantizer, ls_scale, quantize_weight


def _w(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def test_one_bit_is_scaled_sign() -> None:
    w = _w(6, 3, 3, 3)
    q, s = quantize_weight(w, 1, per_channel=True)
    manual = w.abs().mean((1, 2, 3), keepdim=True) * torch.where(w >= 0, 1.0, -1.0)
    assert torch.allclose(q, manual)
    assert all(q[c].unique().numel() == 2 for c in range(6))


def test_ternary_uses_twn_scale_over_kept_entries() -> None:
    w = _w(50)
    q, s = quantize_weight(w, 2, per_channel=False)
    delta = 0.7 * w.abs().mean()
    mask = w.abs() > delta
    scale = w.abs()[mask].mean()
    assert torch.allclose(q, scale * torch.sign(w) * mask)
    assert q.unique().numel() == 3
    assert torch.all(torch.sign(q[mask]) == torch.sign(w[mask]))


@pytest.mark.parametrize("bits", [4, 8])
def test_uniform_matches_manual_round_clamp(bits: int) -> None:
    w = _w(8, 4, 3, 3)
    q, s = quantize_weight(w, bits, per_channel=True)
    levels = 2 ** (bits - 1) - 1
    a = w.abs().flatten(1)
    s0 = 2 * a.max(1).values / (2 * levels + 1)
    codes = torch.clamp(torch.round(a / s0[:, None]), 0, levels)
    s1 = (a * codes).sum(1) / (codes * codes).sum(1)
    manual = s1[:, None] * torch.clamp(torch.round(w.flatten(1) / s1[:, None]), -levels, levels)
    assert torch.allclose(q.flatten(1), manual, atol=1e-6)
    assert all(q[c].unique().numel() <= 2 * levels + 1 for c in range(8))
    assert torch.all((torch.sign(q) == torch.sign(w)) | (q == 0))


def test_four_bit_ls_scale_is_optimal_and_idempotent() -> None:
    w = _w(400)
    s = ls_scale(w, 4, per_channel=False)
    s0 = 2 * w.abs().max() / 15  # the initial step; s is least squares for its codes
    codes = torch.clamp(torch.round(w.abs() / s0), 0, 7)
    err = lambda scale: float(((w.abs() - scale * codes) ** 2).sum())  # noqa: E731
    assert err(s) < err(s * 1.01) and err(s) < err(s * 0.99)
    q, _ = quantize_weight(w, 4, per_channel=False)
    q2, _ = quantize_weight(q, 4, per_channel=False)
    assert torch.allclose(q, q2, atol=1e-6)


def test_per_tensor_has_one_scale() -> None:
    q, s = quantize_weight(_w(4, 5), 4, per_channel=False)
    assert s.numel() == 1 and q.unique().numel() <= 15


@pytest.mark.parametrize("bits", [1, 2, 4, 8])
def test_ste_gradient_reaches_float_weights_at_quantized_point(bits: int) -> None:
    torch.manual_seed(0)
    w = torch.nn.Parameter(_w(5, 7))
    x = _w(3, 7, seed=1)
    loss = ((x @ WeightQuantizer(bits)(w).t()) ** 2).sum()
    loss.backward()
    wq = quantize_weight(w.detach(), bits)[0].requires_grad_(True)
    ((x @ wq.t()) ** 2).sum().backward()
    assert torch.allclose(w.grad, wq.grad)  # dL/dW evaluated at Q(W)


def test_lsq_weight_gradients() -> None:
    wq = WeightQuantizer(4, per_channel=False, scale="lsq")
    w = torch.nn.Parameter(_w(64))
    out = wq(w)
    s = float(wq.step.detach())
    assert torch.allclose(out, s * torch.clamp(torch.round(w.detach() / s), -7, 7))
    out.sum().backward()
    inside = (w.detach() / s).abs() <= 7
    assert torch.equal(w.grad, inside.float())
    assert wq.step.grad is not None and torch.isfinite(wq.step.grad).all()


def test_activation_levels_and_clipped_ste() -> None:
    aq = ActQuantizer(2, signed=False)
    x = torch.linspace(-1, 3, 101, requires_grad=True)
    aq.calibrate(x.detach())
    a = float(aq.step.detach())
    y = aq(x)
    assert torch.allclose(y, a * torch.clamp(torch.round(x.detach() / a), 0, 3))
    assert set((y / a).round().int().tolist()) <= {0, 1, 2, 3}
    y.sum().backward()
    mask = ((x.detach() / a) >= 0) & ((x.detach() / a) <= 3)
    assert torch.equal(x.grad, mask.float())
    assert aq.step.grad is not None


def test_activation_calibration_detects_sign() -> None:
    aq = ActQuantizer(8)
    aq.calibrate(torch.randn(1000))
    assert bool(aq.signed) and aq.code_range == (-128, 127)
    aq = ActQuantizer(8)
    aq.calibrate(torch.rand(1000))
    assert not bool(aq.signed) and float(aq.step.detach()) > 0


def test_bad_bits_are_one_line_errors() -> None:
    with pytest.raises(ValueError, match="weight_bits"):
        WeightQuantizer(9)
    with pytest.raises(ValueError, match="lsq"):
        WeightQuantizer(2, scale="lsq")
