"""Batched thin SVD of many small matrices, grouped by shape (one LAPACK call per shape).

The TRP term takes the SVD of every eligible layer each projection; a CIFAR ResNet has a handful
of distinct matrix shapes, so grouping turns 18 calls into about 5 batched ones.

Example:
    >>> import torch
    >>> mats = [torch.randn(4, 6), torch.randn(4, 6), torch.randn(3, 5)]
    >>> [tuple(s.shape) for _, s, _ in grouped_svd(mats)]
    [(4,), (4,), (3,)]
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

__all__ = ["grouped_svd"]


def grouped_svd(
    matrices: Sequence[torch.Tensor], dtype: torch.dtype = torch.float32
) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """Thin SVD ``M = U diag(S) Vh`` of each matrix, batched over matrices of equal shape.

    Args:
        matrices: 2-D tensors (any shapes, same device).
        dtype: precision of the decomposition (float32 for training-time projections; float64
            for one-off factorizations).

    Returns:
        ``(U, S, Vh)`` per input matrix, in input order; ``S`` sorted descending.

    Example:
        >>> import torch
        >>> m = torch.randn(5, 3, dtype=torch.float64)
        >>> u, s, vh = grouped_svd([m], torch.float64)[0]
        >>> torch.allclose(u @ torch.diag(s) @ vh, m)
        True
    """
    groups: dict[tuple[int, int], list[int]] = {}
    for i, m in enumerate(matrices):
        groups.setdefault((int(m.shape[0]), int(m.shape[1])), []).append(i)
    out: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None] = [None] * len(matrices)
    for idx in groups.values():
        batch = torch.stack([matrices[i].detach().to(dtype) for i in idx])  # (B, rows, cols)
        u, s, vh = torch.linalg.svd(batch, full_matrices=False)
        for j, i in enumerate(idx):
            out[i] = (u[j], s[j], vh[j])
    return out  # type: ignore[return-value]
