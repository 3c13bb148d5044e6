"""Group proxes (digest §2.7-2.9, §8.1.4): block soft, l1 + l2,1 and the exact l0 + l2,1 rule."""

from __future__ import annotations

import math

import pytest
import torch

from slimkit.penalties import (
    GroupL21,
    SparseGroup,
    block_soft_threshold,
    hard_threshold,
    soft_threshold,
    sparse_group_l0_prox,
    sparse_group_l1_prox,
)
from tests.penalties.oracle import sgl0_brute_force, sgl0_objective

F64 = torch.float64


def _groups(n_groups: int, n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    scale = torch.rand(n_groups, 1, generator=gen, dtype=F64) * 3  # mix of small and large groups
    v = torch.randn(n_groups, n, generator=gen, dtype=F64) * scale
    lam1 = torch.rand(n_groups, 1, generator=gen, dtype=F64) * 1.5
    lam2 = torch.rand(n_groups, 1, generator=gen, dtype=F64) * 3
    return v, lam1, lam2


def test_block_soft_threshold_facts() -> None:
    v, _, lam = _groups(2000, 7, seed=0)
    out = block_soft_threshold(v, lam)
    norm = torch.linalg.vector_norm(v, dim=1, keepdim=True)
    zero = (out == 0).all(dim=1, keepdim=True)
    assert torch.equal(zero, norm <= lam)  # zero iff ||v|| <= lam
    cos = (out * v).sum(1, keepdim=True) / (
        torch.linalg.vector_norm(out, dim=1, keepdim=True) * norm
    )
    assert torch.allclose(cos[~zero], torch.ones_like(cos[~zero]))  # direction preserved
    gap = torch.linalg.vector_norm(v - out, dim=1, keepdim=True)
    torch.testing.assert_close(gap, torch.minimum(lam, norm))  # ||v - P(v)|| = min(lam, ||v||)


def _l21_kkt_residual(
    x: torch.Tensor, v: torch.Tensor, lam1: torch.Tensor, lam2: torch.Tensor
) -> float:
    """Optimality of x for 1/2||x - v||^2 + lam1||x||_1 + lam2||x||_2 (convex, so this certifies
    the global minimum): for x != 0, x_i - v_i + lam1 sign(x_i) + lam2 x_i/||x|| = 0 on the
    support and |v_i| <= lam1 off it; for x = 0, ||soft(v, lam1)|| <= lam2."""
    nx = torch.linalg.vector_norm(x, dim=1, keepdim=True)
    nonzero = nx > 0
    on = x != 0
    grad = x - v + lam1 * torch.sign(x) + lam2 * x / nx.clamp_min(1e-300)
    res_on = torch.where(on, grad.abs(), 0.0).amax()
    res_off = torch.where(~on & nonzero, (v.abs() - lam1).clamp_min(0), 0.0).amax()
    soft_norm = torch.linalg.vector_norm(soft_threshold(v, lam1), dim=1, keepdim=True)
    res_zero = torch.where(~nonzero, (soft_norm - lam2).clamp_min(0), 0.0).amax()
    return float(max(res_on, res_off, res_zero))


def _sgl1_objective(
    x: torch.Tensor, v: torch.Tensor, lam1: torch.Tensor, lam2: torch.Tensor
) -> torch.Tensor:
    return (
        0.5 * ((x - v) ** 2).sum(-1)
        + lam1.squeeze(-1) * x.abs().sum(-1)
        + lam2.squeeze(-1) * torch.linalg.vector_norm(x, dim=-1)
    )


@pytest.mark.parametrize("n", [1, 2, 3, 8])
def test_l21_and_sparse_group_l1_optimality(n: int) -> None:
    v, lam1, lam2 = _groups(2000, n, seed=n)
    x = block_soft_threshold(v, lam2)
    assert _l21_kkt_residual(x, v, torch.zeros_like(lam1), lam2) < 1e-12
    x = sparse_group_l1_prox(v, lam1, lam2)
    assert _l21_kkt_residual(x, v, lam1, lam2) < 1e-12
    # Random search around the prox never finds a better point.
    gen = torch.Generator().manual_seed(100 + n)
    base = _sgl1_objective(x, v, lam1, lam2)
    for scale in (1e-1, 1e-3):
        for _ in range(20):
            trial = x + scale * torch.randn(x.shape, generator=gen, dtype=F64)
            assert (_sgl1_objective(trial, v, lam1, lam2) >= base - 1e-12).all()


def test_sparse_group_l1_reduces_to_its_parts() -> None:
    v = torch.randn(64, 27, dtype=F64)
    gl = GroupL21(group_weights=True).prox(v, 0.2)
    torch.testing.assert_close(SparseGroup("l1", 0.0, 1.0).prox(v, 0.2), gl)
    torch.testing.assert_close(gl, block_soft_threshold(v, 0.2 * math.sqrt(27)))
    torch.testing.assert_close(SparseGroup("l1", 1.0, 0.0).prox(v, 0.2), soft_threshold(v, 0.2))
    sg = SparseGroup("l1", 0.5, 2.0, group_weights=False).prox(v, 0.3)
    torch.testing.assert_close(sg, block_soft_threshold(soft_threshold(v, 0.15), 0.6))


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5])
def test_sparse_group_l0_matches_support_enumeration(n: int) -> None:
    v, lam0, lam2 = _groups(1200, n, seed=10 + n)
    lam0 = lam0 / 3  # lam0 in [0, 0.5]: both terms matter
    x = sparse_group_l0_prox(v, lam0, lam2)
    got = sgl0_objective(x, v, lam0.squeeze(1), lam2.squeeze(1))
    best = sgl0_brute_force(v, lam0.squeeze(1), lam2.squeeze(1))
    assert (got <= best + 1e-12).all(), (got - best).max()
    assert (got >= best - 1e-12).all()
    # Ties and exact magnitudes: integer-valued groups with repeated entries.
    w = torch.randint(-3, 4, (500, n)).double()
    x = sparse_group_l0_prox(w, 0.5, 1.0)
    got = sgl0_objective(x, w, torch.tensor(0.5), torch.tensor(1.0))
    best = sgl0_brute_force(w, torch.full((500,), 0.5, dtype=F64), torch.ones(500, dtype=F64))
    assert (got <= best + 1e-12).all()


def test_sparse_group_l0_digest_counterexample() -> None:
    v = torch.tensor([[1.0, 0.5]], dtype=F64)
    lam0, lam2 = torch.tensor(0.1, dtype=F64), torch.tensor(1.0, dtype=F64)
    exact = SparseGroup("l0", elem_weight=0.1, group_weight=1.0, group_weights=False).prox(v, 1.0)
    assert torch.equal(exact, torch.zeros_like(v))
    assert math.isclose(float(sgl0_objective(exact, v, lam0, lam2)), 0.625, abs_tol=1e-12)
    naive = block_soft_threshold(hard_threshold(v, 0.1), 1.0)  # not the prox
    torch.testing.assert_close(
        naive, torch.tensor([[0.1056, 0.0528]], dtype=F64), atol=1e-4, rtol=0
    )
    assert math.isclose(float(sgl0_objective(naive, v, lam0, lam2)), 0.818, abs_tol=1e-3)


def test_sparse_group_l0_reduces_to_its_parts() -> None:
    v = torch.randn(64, 27, dtype=F64)
    # group_weight = 0: elementwise hard thresholding at sqrt(2 * step * elem_weight).
    torch.testing.assert_close(SparseGroup("l0", 0.5, 0.0).prox(v, 0.4), hard_threshold(v, 0.2))
    # elem_weight = 0: block soft thresholding.
    torch.testing.assert_close(
        SparseGroup("l0", 0.0, 1.0).prox(v, 0.2), block_soft_threshold(v, 0.2 * math.sqrt(27))
    )


def test_group_penalties_keep_shape_and_use_rows() -> None:
    w = torch.randn(16, 8, 3, 3, dtype=F64)
    for pen in (GroupL21(), SparseGroup("l1", 0.1, 0.5), SparseGroup("l0", 0.01, 0.5)):
        out = pen.prox(w, 0.05)
        assert out.shape == w.shape
        torch.testing.assert_close(out.reshape(16, -1), pen.prox(w.reshape(16, -1), 0.05))
    with pytest.raises(ValueError, match="rows are groups"):
        GroupL21().prox(torch.ones(5), 0.1)
    # Whole filters die together under the group term.
    w[3] *= 1e-3
    assert (GroupL21().prox(w, 0.05)[3] == 0).all()


def test_per_group_step_tensor() -> None:
    v = torch.randn(4, 6, dtype=F64)
    step = torch.tensor([[0.1], [0.5], [1.0], [2.0]], dtype=F64)
    for pen in (GroupL21(), SparseGroup("l1", 0.2, 0.3), SparseGroup("l0", 0.2, 0.3)):
        rows = torch.cat([pen.prox(v[i : i + 1], float(step[i])) for i in range(4)])
        torch.testing.assert_close(pen.prox(v, step), rows)
