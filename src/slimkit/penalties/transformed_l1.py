"""Transformed l1, ``rho_a(x) = (a+1)|x| / (a+|x|)`` (digest §2.6, §4.2)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor

from slimkit.penalties.base import Penalty, Step, check_positive, work_tensor
from slimkit.penalties.thresholding import tl1_threshold


@dataclass(frozen=True)
class TransformedL1(Penalty):
    """Transformed l1 with shape parameter ``a > 0`` (Zhang & Xin 2017/2018).

    ``rho_a`` interpolates between l0 (``a -> 0``) and l1 (``a -> inf``), is Lipschitz and
    bounded by ``a + 1``. The prox is the closed form of digest §2.6; the subgradient is
    ``a (a+1) sign(x) / (a + |x|)^2`` (§4.2, 0 at ``x = 0``).

    Args:
        a: Shape parameter, ``> 0`` (the nonconvex-slimming README uses ``a = 1``).

    Example:
        >>> import torch
        >>> pen = TransformedL1(a=1.0)
        >>> x = torch.tensor([0.5, 3.0])
        >>> round(float(pen.value(x)), 4), [round(v, 4) for v in pen.prox(x, 1.0).tolist()]
        (2.1667, [0.0, 2.8662])
    """

    name: ClassVar[str] = "tl1"
    a: float = 1.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "a", check_positive("a", self.a, cls="TransformedL1"))

    def value(self, x: Tensor) -> Tensor:
        """Return ``sum (a+1)|x_i| / (a+|x_i|)``."""
        t = work_tensor(x).abs()
        return ((self.a + 1) * t / (self.a + t)).sum().to(x.dtype)

    def prox(self, x: Tensor, step: Step) -> Tensor:
        """Return ``tl1_threshold(x, step, a)``."""
        return tl1_threshold(x, step, self.a)

    def subgradient(self, x: Tensor, eps: float = 1e-8) -> Tensor:
        """Return ``a (a+1) sign(x) / (a+|x|)^2`` (``eps`` is unused; finite everywhere)."""
        xw = work_tensor(x)
        a = self.a
        return (a * (a + 1) * torch.sign(xw) / (a + xw.abs()) ** 2).to(x.dtype)

    def threshold(self, step: Step) -> Tensor:
        """``T = step (a+1)/a`` if ``step <= a^2/(2(a+1))``, else ``sqrt(2 step (a+1)) - a/2``."""
        a = self.a
        s = torch.as_tensor(step, dtype=torch.float64)
        return torch.where(
            s <= a * a / (2 * (a + 1)), s * (a + 1) / a, torch.sqrt(2 * s * (a + 1)) - a / 2
        )
