"""Closed-form facts of digest §2 / §8.1: thresholds, jumps, symmetry, monotonicity, limits."""

from __future__ import annotations

import math

import pytest
import torch

from slimkit.penalties import (
    L0,
    L1,
    MCP,
    SCAD,
    Lp,
    TransformedL1,
    gst_threshold,
    half_threshold,
    hard_threshold,
    soft_threshold,
    tl1_threshold,
    two_thirds_threshold,
)
from tests.penalties.cases import CASES, Case

F64 = torch.float64
LAMS = [0.05, 0.3, 1.0, 2.7]


def _just(thr: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Points just below / just above a threshold, both signs."""
    below = torch.tensor([thr * (1 - 1e-9), -thr * (1 - 1e-9)], dtype=F64)
    above = torch.tensor([thr * (1 + 1e-12), -thr * (1 + 1e-12)], dtype=F64)
    return below, above


def _threshold_jump(name: str, lam: float, p: float = 0.5) -> tuple[float, float]:
    """Digest §8.1 table: threshold T(lam) and the output magnitude just above T."""
    if name == "soft":
        return lam, 0.0
    if name == "hard":
        return math.sqrt(2 * lam), math.sqrt(2 * lam)
    if name == "half":
        return 1.5 * lam ** (2 / 3), lam ** (2 / 3)
    if name == "two_thirds":
        thr = 2 * (2 * lam / 3) ** 0.75
        return thr, thr / 2
    x_star = (2 * lam * (1 - p)) ** (1 / (2 - p))
    return x_star * (2 - p) / (2 * (1 - p)), x_star


OPS = {
    "soft": soft_threshold,
    "hard": hard_threshold,
    "half": half_threshold,
    "two_thirds": two_thirds_threshold,
    "gst0.3": lambda y, lam: gst_threshold(y, lam, 0.3),
    "gst0.75": lambda y, lam: gst_threshold(y, lam, 0.75),
}


@pytest.mark.parametrize("lam", LAMS)
@pytest.mark.parametrize("name", list(OPS))
def test_threshold_and_jump(name: str, lam: float) -> None:
    if name.startswith("gst"):
        thr, jump = _threshold_jump("gst", lam, float(name.removeprefix("gst")))
    else:
        thr, jump = _threshold_jump(name, lam)
    below, above = _just(thr)
    assert torch.equal(OPS[name](below, lam), torch.zeros(2, dtype=F64))
    out = OPS[name](above, lam)
    assert out[0] > 0 or jump == 0.0
    assert out[1] == -out[0]
    torch.testing.assert_close(out[0].abs(), torch.tensor(jump, dtype=F64), atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("p", [0.3, 0.5, 2 / 3, 0.75])
def test_lp_threshold_and_jump_methods(p: float) -> None:
    pen = Lp(p)
    for lam in LAMS:
        thr, jump = _threshold_jump("gst", lam, p)
        assert math.isclose(float(pen.threshold(lam)), thr, rel_tol=1e-12)
        assert math.isclose(float(pen.jump(lam)), jump, rel_tol=1e-12)
    # GST threshold reproduces the closed forms (digest §2.5 consistency checks).
    if p == 0.5:
        assert math.isclose(float(pen.threshold(0.8)), 1.5 * 0.8 ** (2 / 3), rel_tol=1e-12)
    if p == 2 / 3:
        assert math.isclose(float(pen.threshold(0.8)), 2 * (1.6 / 3) ** 0.75, rel_tol=1e-12)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_odd_and_monotone(case: Case) -> None:
    y = torch.linspace(0, 8, 40_001, dtype=F64)
    for lam in (0.1, 1.0, 2.5):
        out = case.penalty.prox(y, lam)
        assert torch.equal(case.penalty.prox(-y, lam), -out)
        assert (out.diff() >= -1e-12).all()
        assert (out >= 0).all() and (out <= y + 1e-12).all()  # shrinks toward 0


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_zero_step_is_identity_and_zero_stays_zero(case: Case) -> None:
    y = torch.randn(1000, dtype=F64) * 3
    torch.testing.assert_close(case.penalty.prox(y, 0.0), y, atol=1e-12, rtol=1e-12)
    assert torch.equal(case.penalty.prox(torch.zeros(5, dtype=F64), 1.0), torch.zeros(5, dtype=F64))


def test_soft_bias_and_hard_identity() -> None:
    y = torch.linspace(-6, 6, 10_001, dtype=F64)
    lam = 0.7
    s = soft_threshold(y, lam)
    big = y.abs() > lam
    torch.testing.assert_close(y[big] - s[big], lam * torch.sign(y[big]), atol=1e-12, rtol=0)
    torch.testing.assert_close(s, torch.nn.functional.softshrink(y, lam))
    h = hard_threshold(y, lam)
    keep = y.abs() > math.sqrt(2 * lam)
    assert torch.equal(h[keep], y[keep]) and (h[~keep] == 0).all()


@pytest.mark.parametrize("p", [0.3, 0.5, 2 / 3, 0.75])
def test_lp_stationarity_residual(p: float) -> None:
    y = torch.linspace(-6, 6, 20_001, dtype=F64)
    lam = torch.rand(20_001, dtype=F64) * 2 + 0.05
    x = Lp(p).prox(y, lam)
    nz = x != 0
    res = x[nz] - y[nz] + lam[nz] * p * torch.sign(x[nz]) * x[nz].abs() ** (p - 1)
    assert nz.sum() > 1000
    assert res.abs().max() < 1e-8


@pytest.mark.parametrize("p", [0.5, 2 / 3])
def test_gst_matches_closed_forms(p: float) -> None:
    y = torch.linspace(-6, 6, 20_001, dtype=F64)
    closed = half_threshold if p == 0.5 else two_thirds_threshold
    for lam in LAMS:
        torch.testing.assert_close(gst_threshold(y, lam, p), closed(y, lam), atol=1e-10, rtol=0)
    # Lp dispatches to the closed form for these p.
    assert torch.equal(Lp(p).prox(y, 0.4), closed(y, 0.4))


def _tl1_literal(y: torch.Tensor, lam: float, a: float) -> torch.Tensor:
    """Digest §2.6 exactly as written (float64)."""
    t = y.abs()
    thr = (
        lam * (a + 1) / a if lam <= a * a / (2 * (a + 1)) else math.sqrt(2 * lam * (a + 1)) - a / 2
    )
    phi = torch.arccos((1 - 27 * lam * a * (a + 1) / (2 * (a + t) ** 3)).clamp(-1, 1))
    g = (2 / 3) * (a + t) * torch.cos(phi / 3) - 2 * a / 3 + t / 3
    return torch.where(t > thr, torch.sign(y) * g, 0.0)


@pytest.mark.parametrize("a", [0.1, 0.5, 1.0, 3.0, 10.0])
def test_tl1_matches_literal_formula_and_threshold(a: float) -> None:
    y = torch.linspace(-6, 6, 20_001, dtype=F64)
    pen = TransformedL1(a)
    for lam in LAMS:
        torch.testing.assert_close(pen.prox(y, lam), _tl1_literal(y, lam, a), atol=1e-9, rtol=0)
        thr = float(pen.threshold(lam))
        below, above = _just(thr)
        assert (pen.prox(below, lam) == 0).all()
        jump = float(pen.prox(above, lam)[0])
        if lam <= a * a / (2 * (a + 1)):
            assert jump < 1e-5  # continuous ("soft-like") regime
        else:
            assert jump > 1e-3  # jump ("hard-like") regime


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_tl1_limits(dtype: torch.dtype) -> None:
    y = torch.linspace(-5, 5, 2001, dtype=dtype)
    y = y[(y.abs() - math.sqrt(2)).abs() > 1e-2]  # away from the hard threshold's jump
    torch.testing.assert_close(
        tl1_threshold(y, 1.0, 1e-4), hard_threshold(y, 1.0), atol=2e-3, rtol=0
    )
    torch.testing.assert_close(
        tl1_threshold(y, 1.0, 1e4), soft_threshold(y, 1.0), atol=2e-3, rtol=0
    )


def test_mcp_and_scad_unit_step_match_digest() -> None:
    y = torch.linspace(-8, 8, 16_001, dtype=F64)
    s, t = torch.sign(y), y.abs()
    for a in (1.5, 3.0, 5.0):
        lam = 0.9
        firm = torch.where(t <= lam, 0.0, torch.where(t <= a * lam, s * (t - lam) / (1 - 1 / a), y))
        torch.testing.assert_close(MCP(a, lam).prox(y, 1.0), firm, atol=1e-12, rtol=0)
    for a in (2.5, 3.7, 6.0):
        lam = 0.9
        mid = ((a - 1) * y - s * a * lam) / (a - 2)
        ref = torch.where(t <= 2 * lam, soft_threshold(y, lam), torch.where(t <= a * lam, mid, y))
        torch.testing.assert_close(SCAD(a, lam).prox(y, 1.0), ref, atol=1e-12, rtol=0)


def test_mcp_step_scaling_and_hard_regime() -> None:
    """step*MCP(lam, a) = MCP(step*lam, a/step); for step >= a the prox is hard at lam sqrt(a step)."""
    y = torch.linspace(-8, 8, 16_001, dtype=F64)
    torch.testing.assert_close(MCP(3.0, 0.9).prox(y, 0.5), MCP(6.0, 0.45).prox(y, 1.0))
    out = MCP(1.5, 0.9).prox(y, 2.0)
    thr = 0.9 * math.sqrt(1.5 * 2.0)
    assert torch.equal(out, torch.where(y.abs() > thr, y, 0.0))


def test_tensor_step_broadcasts_like_scalar_steps() -> None:
    y = torch.randn(3, 50, dtype=F64) * 3
    lam = torch.tensor([[0.1], [0.5], [2.0]], dtype=F64)
    for pen in (L1(), L0(), Lp(0.5), Lp(0.3), TransformedL1(1.0), MCP(), SCAD()):
        rows = torch.stack([pen.prox(y[i], float(lam[i])) for i in range(3)])
        torch.testing.assert_close(pen.prox(y, lam), rows, atol=1e-12, rtol=0)


def test_bad_inputs_raise_one_line_value_errors() -> None:
    for bad in (-1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="step") as err:
            L1().prox(torch.ones(3), bad)
        assert "\n" not in str(err.value)
    with pytest.raises(ValueError, match="floating point"):
        L1().prox(torch.ones(3, dtype=torch.int64), 1.0)
    with pytest.raises(ValueError, match="0 < p < 1"):
        gst_threshold(torch.ones(3), 1.0, 1.5)


@pytest.mark.parametrize("a", [2.5, 3.7])
def test_scad_fast_path_equals_candidate_search(a: float) -> None:
    """A Python-number step below a-1 takes the closed form; a tensor step the exact search."""
    y = torch.linspace(-8, 8, 16_001, dtype=F64)
    pen = SCAD(a, 0.8)
    for step in (0.05, 0.5, 1.0, 1.4):
        fast = pen.prox(y, step)
        search = pen.prox(y, torch.tensor(step, dtype=F64))
        torch.testing.assert_close(fast, search, atol=1e-12, rtol=0)
