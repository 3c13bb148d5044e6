"""The l0 penalty ``R(x) = #{i : x_i != 0}`` (digest §2.2, §6.2)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor

from slimkit.penalties.base import Penalty, Step
from slimkit.penalties.thresholding import hard_threshold


@dataclass(frozen=True)
class L0(Penalty):
    """Counting penalty: prox is hard thresholding at ``sqrt(2 step)`` (digest §2.2). In the
    sparse-group splitting with coupling ``beta/2 ||w - u||^2`` the U-update is
    ``prox(w, lam / beta)``. It has no subgradient (``subgradient`` raises).

    Example:
        >>> import torch
        >>> pen = L0()
        >>> x = torch.tensor([-2.0, 0.0, 0.5])
        >>> float(pen.value(x)), pen.prox(x, 0.5).tolist()
        (2.0, [-2.0, 0.0, 0.0])
    """

    name: ClassVar[str] = "l0"

    def value(self, x: Tensor) -> Tensor:
        """Return the number of nonzero entries (as ``x``'s dtype)."""
        return (x != 0).sum().to(x.dtype)

    def prox(self, x: Tensor, step: Step) -> Tensor:
        """Return ``hard_threshold(x, step)``."""
        return hard_threshold(x, step)

    def threshold(self, step: Step) -> Tensor:
        """Dead-zone half-width ``T = sqrt(2 step)`` (the jump has the same size)."""
        return torch.sqrt(2 * torch.as_tensor(step, dtype=torch.float64))
