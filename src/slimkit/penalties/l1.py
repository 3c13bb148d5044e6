"""The l1 penalty ``R(x) = sum |x_i|`` (digest §2.1, §3.1, §4.2)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor

from slimkit.penalties.base import Penalty, Step, work_tensor
from slimkit.penalties.thresholding import soft_threshold


@dataclass(frozen=True)
class L1(Penalty):
    """Lasso penalty: prox is soft thresholding at ``step``; subgradient ``sign(x)`` (0 at 0),
    the term network slimming adds to the BN scales' gradient (digest §3.2, §4.2).

    Example:
        >>> import torch
        >>> pen = L1()
        >>> x = torch.tensor([-2.0, 0.0, 0.5])
        >>> float(pen.value(x)), pen.prox(x, 1.0).tolist(), pen.subgradient(x).tolist()
        (2.5, [-1.0, 0.0, 0.0], [-1.0, 0.0, 1.0])
    """

    name: ClassVar[str] = "l1"

    def value(self, x: Tensor) -> Tensor:
        """Return ``sum |x_i|``."""
        return work_tensor(x).abs().sum().to(x.dtype)

    def prox(self, x: Tensor, step: Step) -> Tensor:
        """Return ``soft_threshold(x, step)``."""
        return soft_threshold(x, step)

    def subgradient(self, x: Tensor, eps: float = 1e-8) -> Tensor:
        """Return ``sign(x)`` with ``sign(0) = 0`` (``eps`` is unused)."""
        return torch.sign(x)

    def threshold(self, step: Step) -> Tensor:
        """Dead-zone half-width ``T = step``: the prox is 0 exactly when ``|x| <= T``."""
        return torch.as_tensor(step, dtype=torch.float64)
