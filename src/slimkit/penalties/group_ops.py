"""Closed-form proximal operators for group penalties (digest ``network_slimming_family.md`` §2.7-2.9).

Groups are the ROWS of a 2-D tensor ``v`` of shape ``(G, n)`` (e.g. a conv weight viewed as
``out_channels x (in_channels*k*k)``). Thresholds are numbers ``>= 0`` or tensors broadcastable to
``(G, 1)`` (one value per group). Everything is vectorized over groups: sort, cumsum, argmin.
"""

from __future__ import annotations

import torch
from torch import Tensor

from slimkit.penalties.base import Step, as_step, tiny, work_tensor
from slimkit.penalties.thresholding import soft_threshold


def as_groups(x: Tensor) -> Tensor:
    """View ``x`` as ``(G, n)``: rows are groups, trailing dimensions are flattened.

    Raises:
        ValueError: if ``x`` has fewer than 2 dimensions.

    Example:
        >>> import torch
        >>> as_groups(torch.zeros(8, 3, 3, 3)).shape
        torch.Size([8, 27])
    """
    if x.dim() < 2:
        raise ValueError(
            f"x: shape {tuple(x.shape)} is not allowed for a group penalty "
            "(allowed: >= 2 dims, rows are groups, e.g. a conv weight (out, in, k, k))"
        )
    return x.reshape(x.shape[0], -1)


def block_soft_threshold(v: Tensor, lam: Step) -> Tensor:
    """Block soft thresholding, the prox of ``lam * ||v_g||_2`` for each row ``g`` (digest §2.7):
    ``max(0, 1 - lam/||v_g||) v_g``.

    Example:
        >>> import torch
        >>> block_soft_threshold(torch.tensor([[3.0, 4.0], [0.3, 0.4]]), 1.0)
        tensor([[2.4000, 3.2000],
                [0.0000, 0.0000]])
    """
    vw = work_tensor(v)
    lam_t = as_step(lam, vw)
    norms = torch.linalg.vector_norm(vw, dim=1, keepdim=True)  # (G, 1)
    scale = torch.clamp(1 - lam_t / norms.clamp_min(tiny(vw)), min=0)
    return (vw * scale).to(v.dtype)


def sparse_group_l1_prox(v: Tensor, lam1: Step, lam2: Step) -> Tensor:
    """Prox of ``lam1 ||x||_1 + lam2 ||x_g||_2`` per row (sparse group lasso; digest §2.8):
    block soft thresholding applied after elementwise soft thresholding (exact; Friedman, Hastie,
    Tibshirani 2010; Simon et al. 2013).

    Example:
        >>> import torch
        >>> sparse_group_l1_prox(torch.tensor([[4.0, 5.0, 0.5]]), 1.0, 2.5)
        tensor([[1.5000, 2.0000, 0.0000]])
    """
    return block_soft_threshold(soft_threshold(v, lam1), lam2)


def sparse_group_l0_prox(v: Tensor, lam0: Step, lam2: Step) -> Tensor:
    """Exact prox of ``lam0 ||x||_0 + lam2 ||x_g||_2`` per row (digest §2.9, sort-and-scan).

    For a fixed support ``S`` the optimum is block soft thresholding of ``v_S`` and the objective
    is ``1/2||v||^2 + lam0 |S| - 1/2 (||v_S|| - lam2)_+^2``, so the best support of size ``k`` is the
    ``k`` largest ``|v_i|``. With ``r_k`` the norm of the top ``k`` entries, pick
    ``k* = argmin_k lam0 k - 1/2 (r_k - lam2)_+^2`` over ``k = 0..n`` (smallest ``k`` on ties), keep
    those entries and block-soft-threshold them. The naive "hard threshold then block shrink"
    composition is NOT exact (digest counterexample ``v = (1, 0.5)``, ``lam0 = 0.1``,
    ``lam2 = 1``: exact prox ``(0, 0)``).

    Example:
        >>> import torch
        >>> sparse_group_l0_prox(torch.tensor([[1.0, 0.5], [4.0, 0.1]]), 0.1, 1.0)
        tensor([[0., 0.],
                [3., 0.]])
    """
    vw = work_tensor(v)
    lam0_t = as_step(lam0, vw)
    lam2_t = as_step(lam2, vw)
    g, n = vw.shape
    mags, order = vw.abs().sort(dim=1, descending=True)  # (G, n) each
    r = torch.sqrt(torch.cumsum(mags * mags, dim=1))  # r[:, k-1] = norm of the top-k entries
    r = torch.cat([r.new_zeros(g, 1), r], dim=1)  # (G, n+1): r[:, k] for k = 0..n
    k = torch.arange(n + 1, device=vw.device, dtype=vw.dtype)  # (n+1,)
    cost = lam0_t * k - 0.5 * torch.clamp(r - lam2_t, min=0) ** 2  # (G, n+1)
    k_best = torch.argmin(cost, dim=1, keepdim=True)  # (G, 1); first minimum = smallest k
    keep_sorted = torch.arange(1, n + 1, device=vw.device) <= k_best  # (G, n), in sorted order
    keep = torch.zeros_like(keep_sorted).scatter(1, order, keep_sorted)  # back to input order
    r_best = torch.gather(r, 1, k_best)  # (G, 1)
    scale = torch.clamp(1 - lam2_t / r_best.clamp_min(tiny(vw)), min=0)
    return (vw * keep * scale).to(v.dtype)
