"""Sparse group penalties: an elementwise l1 or l0 term plus group l2,1 (digest §2.8, §2.9, §6)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from slimkit.penalties.base import Penalty, Step, as_step, check_nonnegative, tiny, work_tensor
from slimkit.penalties.group_l21 import check_bool, group_norm_terms, group_scale
from slimkit.penalties.group_ops import as_groups, sparse_group_l0_prox, sparse_group_l1_prox
from slimkit.registry import suggest

ELEMENTWISE = ("l1", "l0")


@dataclass(frozen=True)
class SparseGroup(Penalty):
    """``R(x) = elem_weight * E(x) + group_weight * sum_g w_g ||x_g||_2`` over the rows of ``x``.

    ``E`` is ``||x||_1`` (``elementwise="l1"``, classical sparse group lasso) or ``||x||_0``
    (``"l0"``, the combination of Bui et al., arXiv 1912.07868); ``w_g = sqrt(group size)`` when
    ``group_weights`` (digest §2.7, §6.1). ``prox(x, step)`` solves
    ``argmin 1/2||z - x||^2 + step * R(z)`` exactly: soft then block soft thresholding for l1
    (§2.8), the sort-and-scan rule for l0 (§2.9; the naive hard-then-shrink composition is not
    exact). Rows are groups (``x.reshape(x.shape[0], -1)``).

    Args:
        elementwise: ``"l1"`` or ``"l0"``.
        elem_weight: Weight of the elementwise term, ``>= 0``.
        group_weight: Weight of the group term, ``>= 0``.
        group_weights: Multiply each group's norm by ``sqrt(group size)``.

    Example:
        >>> import torch
        >>> pen = SparseGroup("l0", elem_weight=0.1, group_weight=1.0, group_weights=False)
        >>> pen.prox(torch.tensor([[1.0, 0.5]]), 1.0).tolist()  # digest §2.9 counterexample
        [[0.0, 0.0]]
    """

    elementwise: str = "l1"
    elem_weight: float = 1.0
    group_weight: float = 1.0
    group_weights: bool = True

    def __post_init__(self) -> None:
        if self.elementwise not in ELEMENTWISE:
            raise ValueError(
                f"SparseGroup: elementwise={self.elementwise!r} is not allowed"
                f"{suggest(str(self.elementwise), list(ELEMENTWISE))} (allowed: l1, l0)"
            )
        for field in ("elem_weight", "group_weight"):
            value = check_nonnegative(field, getattr(self, field), cls="SparseGroup")
            object.__setattr__(self, field, value)
        check_bool("group_weights", self.group_weights, "SparseGroup")

    @property
    def name(self) -> str:  # type: ignore[override]
        """``'l1_l21'`` or ``'l0_l21'``."""
        return f"{self.elementwise}_l21"

    def value(self, x: Tensor) -> Tensor:
        """Return ``elem_weight * E(x) + group_weight * sum_g w_g ||x_g||_2``."""
        v, norms, w = group_norm_terms(x, self.group_weights)
        elem = v.abs().sum() if self.elementwise == "l1" else (v != 0).sum().to(v.dtype)
        return (self.elem_weight * elem + self.group_weight * w * norms.sum()).to(x.dtype)

    def prox(self, x: Tensor, step: Step) -> Tensor:
        """Return the exact prox of ``step * R`` (``x``'s shape)."""
        v = as_groups(work_tensor(x))
        s = as_step(step, v)
        lam_e = s * self.elem_weight
        lam_g = s * self.group_weight * group_scale(v.shape[1], self.group_weights)
        op = sparse_group_l1_prox if self.elementwise == "l1" else sparse_group_l0_prox
        return op(v, lam_e, lam_g).reshape(x.shape).to(x.dtype)

    def subgradient(self, x: Tensor, eps: float = 1e-8) -> Tensor:
        """Return ``elem_weight sign(x) + group_weight w_g x_g/||x_g||`` (l1 only; ``eps`` unused).

        Raises:
            NotImplementedError: for ``elementwise="l0"``, which has no subgradient.
        """
        if self.elementwise == "l0":
            return super().subgradient(x, eps)
        v, norms, w = group_norm_terms(x, self.group_weights)
        g = self.elem_weight * torch.sign(v) + self.group_weight * w * v / norms.clamp_min(tiny(v))
        return g.reshape(x.shape).to(x.dtype)
