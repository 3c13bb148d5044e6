"""Smoothly clipped absolute deviation (SCAD; Fan & Li 2001), digest §2.10 and §4.2."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor

from slimkit.penalties.base import Penalty, Step, check_positive, work_tensor
from slimkit.penalties.thresholding import scad_threshold, scad_value


@dataclass(frozen=True)
class SCAD(Penalty):
    """SCAD with its own strength ``lam`` and shape ``a > 2`` (see :func:`scad_value`).

    As for :class:`MCP`, ``lam`` sits inside ``R`` (digest §4.2); use weight 1 in a slimming term.
    ``prox(x, step)`` is the exact prox of ``step * R`` (:func:`scad_threshold`).

    Args:
        a: Shape, ``> 2`` (Fan & Li recommend 3.7).
        lam: Strength inside the penalty, ``> 0``.

    Example:
        >>> import torch
        >>> pen = SCAD(a=3.7, lam=1.0)
        >>> [round(v, 4) for v in pen.prox(torch.tensor([0.5, 1.5, 3.0, 5.0]), 1.0).tolist()]
        [0.0, 0.5, 2.5882, 5.0]
    """

    name: ClassVar[str] = "scad"
    a: float = 3.7
    lam: float = 1.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "a", check_positive("a", self.a, above=2.0, cls="SCAD"))
        object.__setattr__(self, "lam", check_positive("lam", self.lam, cls="SCAD"))

    def value(self, x: Tensor) -> Tensor:
        """Return ``sum SCAD(x_i; lam, a)``."""
        return scad_value(work_tensor(x).abs(), self.lam, self.a).sum().to(x.dtype)

    def prox(self, x: Tensor, step: Step) -> Tensor:
        """Return ``scad_threshold(x, step, a, lam)``."""
        return scad_threshold(x, step, self.a, self.lam)

    def subgradient(self, x: Tensor, eps: float = 1e-8) -> Tensor:
        """Return ``lam sign(x)`` for ``|x| <= lam``, ``(a lam sign(x) - x)/(a-1)`` for
        ``lam < |x| <= a lam``, else 0 (``eps`` unused)."""
        xw = work_tensor(x)
        t, s = xw.abs(), torch.sign(xw)
        a, lam = self.a, self.lam
        mid = (a * lam * s - xw) / (a - 1)
        g = torch.where(t <= lam, lam * s, torch.where(t <= a * lam, mid, 0.0))
        return g.to(x.dtype)
