"""Brute-force oracles shared by the penalty tests (float64, CPU)."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import torch
from torch import Tensor

# Shared 1-D grid over [0, 7] with step 7e-5 and 0 exactly on it. Every R tested here is even, so
# min_x 1/2 (x - y)^2 + lam R(x) = min_{x >= 0} 1/2 (x - |y|)^2 + lam R(x): the half grid at
# |y| is the full 200k-point grid over [-7, 7] (which covers [-|y|-1, |y|+1] for |y| <= 6).
GRID_POINTS = 100_000
GRID_STEP = 7.0 / GRID_POINTS
GRID = torch.arange(0, GRID_POINTS + 1, dtype=torch.float64) * GRID_STEP


def grid_minimum(y: Tensor, lam: Tensor, r: Callable[[Tensor], Tensor], chunk: int = 125) -> Tensor:
    """Return ``min_g 1/2 (g - y)^2 + lam R(g)`` over ``+-GRID`` for each ``(y_i, lam_i)``.

    ``R`` must be even (see :data:`GRID`). The objective is ``[1, lam_i, -y_i] . [g^2/2, R(g), g] + y_i^2/2``, so all 200k grid values of
    a chunk of samples come out of one matrix product: (B, 3) @ (3, M) -> (B, M).
    """
    y = y.abs()
    basis = torch.stack([0.5 * GRID**2, r(GRID), GRID])  # (3, M)
    out = []
    for i in range(0, y.numel(), chunk):
        yi, li = y[i : i + chunk], lam[i : i + chunk]
        coef = torch.stack([torch.ones_like(yi), li, -yi], dim=1)  # (B, 3)
        out.append((coef @ basis).amin(dim=1) + 0.5 * yi**2)  # (B,)
    return torch.cat(out)


def objective(x: Tensor, y: Tensor, lam: Tensor, r: Callable[[Tensor], Tensor]) -> Tensor:
    """Elementwise ``1/2 (x - y)^2 + lam R(x)`` in float64."""
    x = x.double()
    return 0.5 * (x - y) ** 2 + lam * r(x)


def all_supports(n: int) -> Tensor:
    """All ``2^n`` 0/1 support masks of length ``n`` as a float64 tensor (2^n, n)."""
    return torch.tensor(list(itertools.product([0.0, 1.0], repeat=n)), dtype=torch.float64)


def sgl0_objective(x: Tensor, v: Tensor, lam0: Tensor, lam2: Tensor) -> Tensor:
    """Per-row ``1/2||x - v||^2 + lam0 ||x||_0 + lam2 ||x||_2`` for (..., n) tensors."""
    return (
        0.5 * ((x - v) ** 2).sum(-1)
        + lam0 * (x != 0).sum(-1).double()
        + lam2 * torch.linalg.vector_norm(x, dim=-1)
    )


def sgl0_brute_force(v: Tensor, lam0: Tensor, lam2: Tensor) -> Tensor:
    """Exact minimum of :func:`sgl0_objective` for each row of ``v`` (B, n) by enumerating every
    support ``S``: for a fixed support the optimum is block soft thresholding of ``v_S``, so the
    minimum over all supports of the true objective of that candidate is the global minimum."""
    masks = all_supports(v.shape[1])  # (K, n)
    vs = v[:, None, :] * masks[None]  # (B, K, n)
    norms = torch.linalg.vector_norm(vs, dim=-1, keepdim=True)  # (B, K, 1)
    scale = torch.clamp(1 - lam2[:, None, None] / norms.clamp_min(1e-300), min=0)
    cand = vs * scale  # (B, K, n)
    obj = sgl0_objective(cand, v[:, None, :], lam0[:, None], lam2[:, None])  # (B, K)
    return obj.amin(dim=1)
