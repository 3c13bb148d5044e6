"""value() against the formulas, subgradient() against autograd and its guards at 0 (§4.2)."""

from __future__ import annotations

import math

import pytest
import torch

from slimkit.penalties import L0, L1, MCP, SCAD, GroupL21, Lp, SparseGroup, TransformedL1
from tests.penalties.cases import CASES, Case

F64 = torch.float64


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_value_matches_formula(case: Case) -> None:
    x = torch.randn(200, dtype=F64) * 3
    x[:10] = 0
    torch.testing.assert_close(case.penalty.value(x), case.r(x).sum())
    assert case.penalty.value(x.float()).dtype == torch.float32


def test_value_spot_checks() -> None:
    x = torch.tensor([0.0, -4.0, 1.0, 0.25], dtype=F64)
    assert float(L1().value(x)) == 5.25
    assert float(L0().value(x)) == 3.0
    assert math.isclose(float(Lp(0.5).value(x)), 2 + 1 + 0.5)
    assert math.isclose(float(TransformedL1(1.0).value(x)), 2 * 4 / 5 + 2 * 1 / 2 + 2 * 0.25 / 1.25)
    assert math.isclose(float(MCP(2.0, 1.0).value(x)), 1.0 + (1 - 0.25) + (0.25 - 0.0625 / 4))
    assert math.isclose(float(SCAD(3.0, 1.0).value(x)), 2.0 + 1.0 + 0.25)


def test_group_values() -> None:
    w = torch.tensor([[3.0, 4.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0]], dtype=F64)
    assert float(GroupL21(group_weights=False).value(w)) == 6.0
    assert float(GroupL21().value(w)) == 12.0  # sqrt(4) = 2 per group
    assert float(SparseGroup("l1", 0.5, 1.0).value(w)) == 0.5 * 8 + 12.0
    assert float(SparseGroup("l0", 0.5, 1.0, group_weights=False).value(w)) == 0.5 * 3 + 6.0


SUBGRADIENT_CASES = [c for c in CASES if c.id != "l0"]


@pytest.mark.parametrize("case", SUBGRADIENT_CASES, ids=[c.id for c in SUBGRADIENT_CASES])
def test_subgradient_finite_and_zero_at_zero(case: Case) -> None:
    for dtype in (torch.float32, F64):
        x = torch.tensor([0.0, -0.0, 1e-30, -1e-30, 1.0], dtype=dtype)
        g = case.penalty.subgradient(x)
        assert g.dtype == dtype and torch.isfinite(g).all()
        assert g[0] == 0 and g[1] == 0


@pytest.mark.parametrize("case", SUBGRADIENT_CASES, ids=[c.id for c in SUBGRADIENT_CASES])
def test_subgradient_matches_autograd_away_from_kinks(case: Case) -> None:
    x = torch.randn(500, dtype=F64) * 3
    # Stay away from 0 and from the MCP/SCAD breakpoints (lam = 0.7, a*lam).
    kinks = torch.tensor([0.0, 0.7, 1.05, 1.75, 2.1, 2.59], dtype=F64)
    x = x[((x.abs()[:, None] - kinks).abs() > 1e-3).all(dim=1)].requires_grad_(True)
    case.r(x).sum().backward()
    torch.testing.assert_close(case.penalty.subgradient(x.detach()), x.grad)


def test_lp_guard_below_eps() -> None:
    x = torch.tensor([1e-12, -1e-12, 0.0], dtype=F64)
    g = Lp(0.5).subgradient(x, eps=1e-8)
    expected = 0.5 * (1e-8) ** -0.5
    torch.testing.assert_close(g, torch.tensor([expected, -expected, 0.0], dtype=F64))


def test_tl1_and_l1_subgradient_formulas() -> None:
    x = torch.tensor([-2.0, 0.0, 0.5], dtype=F64)
    assert torch.equal(L1().subgradient(x), torch.tensor([-1.0, 0.0, 1.0], dtype=F64))
    a = 2.0
    expected = a * (a + 1) * torch.sign(x) / (a + x.abs()) ** 2
    torch.testing.assert_close(TransformedL1(a).subgradient(x), expected)


def test_group_subgradients() -> None:
    w = torch.randn(6, 2, 3, dtype=F64)
    w[2] = 0
    for pen in (GroupL21(), SparseGroup("l1", 0.3, 0.7)):
        g = pen.subgradient(w)
        assert g.shape == w.shape and torch.isfinite(g).all()
        assert (g[2] == 0).all()  # minimum-norm subgradient at an all-zero group
        live = w.clone().requires_grad_(True)
        pen.value(live).backward()
        torch.testing.assert_close(g[[0, 1, 3, 4, 5]], live.grad[[0, 1, 3, 4, 5]])


@pytest.mark.parametrize("pen", [L0(), SparseGroup("l0", 1.0, 1.0)], ids=["l0", "l0_l21"])
def test_no_subgradient_for_l0(pen) -> None:
    with pytest.raises(NotImplementedError, match="prox"):
        pen.subgradient(torch.ones(2, 3))
