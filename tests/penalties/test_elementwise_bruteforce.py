"""Every elementwise prox against a 200k-point grid minimization on >= 1000 random (y, lam)."""

from __future__ import annotations

import zlib

import pytest
import torch

from tests.penalties.cases import CASES, Case
from tests.penalties.oracle import GRID_STEP, grid_minimum, objective


def _samples(case: Case, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """1000 samples, lam in [0.05, 3]: 800 with y in [-6, 6], then 200 with y at +-T(lam)(1 +- 1e-7)
    (penalties with a ``threshold`` method) or with |y| <= 6/7 (the others)."""
    gen = torch.Generator().manual_seed(seed)
    y = (torch.rand(1000, generator=gen, dtype=torch.float64) * 12) - 6
    lam = torch.rand(1000, generator=gen, dtype=torch.float64) * 2.95 + 0.05
    threshold = getattr(case.penalty, "threshold", None)
    if threshold is None:
        y[800:] /= 7
    else:
        rel = torch.tensor([1 - 1e-7, 1 + 1e-7], dtype=torch.float64).repeat(100)
        sign = torch.tensor([1.0, 1.0, -1.0, -1.0], dtype=torch.float64).repeat(50)
        y[800:] = (sign * threshold(lam[800:]) * rel).clamp(-6, 6)
    return y, lam


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_prox_objective_not_above_grid_minimum(case: Case) -> None:
    y, lam = _samples(case, seed=zlib.crc32(case.id.encode()))
    x = case.penalty.prox(y, lam)
    assert x.shape == y.shape and x.dtype == torch.float64
    assert torch.isfinite(x).all()
    got = objective(x, y, lam, case.r)
    best = grid_minimum(y, lam, case.r)
    # The prox is exact: never worse than the grid (up to float64 rounding) ...
    assert (got <= best + 1e-10).all(), (got - best).max()
    # ... and the grid is never much worse than the prox (sanity of the oracle itself).
    assert (got >= best - 50 * GRID_STEP**2 - 1e-10).all(), (best - got).max()


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_float32_prox_is_nearly_optimal(case: Case) -> None:
    """The float32 path loses only float32 rounding in objective value."""
    y, lam = _samples(case, seed=1)
    x32 = case.penalty.prox(y.float(), lam.float())
    assert x32.dtype == torch.float32 and torch.isfinite(x32).all()
    got = objective(x32, y, lam, case.r)
    best = objective(case.penalty.prox(y, lam), y, lam, case.r)
    assert (got <= best + 1e-5 * (1 + best.abs())).all(), (got - best).max()
