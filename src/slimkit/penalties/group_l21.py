"""Group lasso ``R(x) = sum_g w_g ||x_g||_2`` over the rows of a tensor (digest §2.7, §6.1)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor

from slimkit.penalties.base import Penalty, Step, as_step, tiny, work_tensor
from slimkit.penalties.group_ops import as_groups, block_soft_threshold


def group_scale(n: int, group_weights: bool) -> float:
    """Per-group weight ``w_g``: ``sqrt(n)`` for groups of size ``n`` if enabled, else 1.

    Example:
        >>> group_scale(9, True), group_scale(9, False)
        (3.0, 1.0)
    """
    return math.sqrt(n) if group_weights else 1.0


def group_norm_terms(x: Tensor, group_weights: bool) -> tuple[Tensor, Tensor, float]:
    """Return ``(v, norms, w)``: ``x`` as ``(G, n)`` in a safe dtype, row norms ``(G, 1)``, ``w_g``.

    Example:
        >>> import torch
        >>> v, norms, w = group_norm_terms(torch.ones(2, 4), True)
        >>> norms.flatten().tolist(), w
        ([2.0, 2.0], 2.0)
    """
    v = as_groups(work_tensor(x))
    norms = torch.linalg.vector_norm(v, dim=1, keepdim=True)
    return v, norms, group_scale(v.shape[1], group_weights)


def check_bool(field: str, value: object, cls: str) -> bool:
    """Validate a boolean constructor argument.

    Example:
        >>> check_bool("group_weights", True, "GroupL21")
        True
    """
    if not isinstance(value, bool):
        raise ValueError(f"{cls}: {field}={value!r} is not allowed (allowed: true or false)")
    return value


@dataclass(frozen=True)
class GroupL21(Penalty):
    """Group l2,1 over rows: groups are ``x.reshape(x.shape[0], -1)`` rows (a conv weight's output
    filters; transpose an FC weight to group its input units as the SGL code does, digest §6.1).

    ``value(x) = sum_g w_g ||x_g||_2`` with ``w_g = sqrt(group size)`` when ``group_weights``
    (digest §2.7), and ``prox(x, step)`` is block soft thresholding at ``step * w_g``.
    ``subgradient`` is the minimum-norm one, ``w_g x_g / ||x_g||`` (0 for an all-zero group), which
    is what autograd uses in the SGL code (§6.2).

    Args:
        group_weights: Multiply each group's norm by ``sqrt(group size)``.

    Example:
        >>> import torch
        >>> pen = GroupL21(group_weights=False)
        >>> pen.prox(torch.tensor([[3.0, 4.0], [0.3, 0.4]]), 2.5).tolist()
        [[1.5, 2.0], [0.0, 0.0]]
    """

    name: ClassVar[str] = "group_l21"
    group_weights: bool = True

    def __post_init__(self) -> None:
        check_bool("group_weights", self.group_weights, "GroupL21")

    def value(self, x: Tensor) -> Tensor:
        """Return ``sum_g w_g ||x_g||_2``."""
        _, norms, w = group_norm_terms(x, self.group_weights)
        return (w * norms.sum()).to(x.dtype)

    def prox(self, x: Tensor, step: Step) -> Tensor:
        """Return block soft thresholding of each row at ``step * w_g`` (``x``'s shape)."""
        v = as_groups(work_tensor(x))
        lam = as_step(step, v) * group_scale(v.shape[1], self.group_weights)
        return block_soft_threshold(v, lam).reshape(x.shape).to(x.dtype)

    def subgradient(self, x: Tensor, eps: float = 1e-8) -> Tensor:
        """Return ``w_g x_g / ||x_g||`` per row, 0 for all-zero rows (``eps`` unused)."""
        v, norms, w = group_norm_terms(x, self.group_weights)
        return (w * v / norms.clamp_min(tiny(v))).reshape(x.shape).to(x.dtype)
