"""Minimax concave penalty (MCP; Zhang 2010), used by nonconvex network slimming (digest §2.10, §4.2)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor

from slimkit.penalties.base import Penalty, Step, check_positive, work_tensor
from slimkit.penalties.thresholding import mcp_threshold


@dataclass(frozen=True)
class MCP(Penalty):
    """MCP with its own strength ``lam`` and concavity ``a > 1``:
    ``lam|x| - x^2/(2a)`` for ``|x| <= a lam``, else ``a lam^2 / 2``.

    Unlike the other penalties, ``lam`` sits inside ``R`` (as in the reference code, digest §4.2,
    whose gradient term is ``sign(x)(lam - |x|/a)`` with no extra factor), so a slimming term
    should use it with weight 1. ``prox(x, step)`` is the exact prox of ``step * R`` (firm
    thresholding for ``step < a``, hard thresholding otherwise; see :func:`mcp_threshold`).

    Args:
        a: Concavity, ``> 1``.
        lam: Strength inside the penalty, ``> 0``.

    Example:
        >>> import torch
        >>> pen = MCP(a=2.0, lam=1.0)
        >>> pen.prox(torch.tensor([0.5, 1.5, 5.0]), 1.0).tolist()
        [0.0, 1.0, 5.0]
    """

    name: ClassVar[str] = "mcp"
    a: float = 3.0
    lam: float = 1.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "a", check_positive("a", self.a, above=1.0, cls="MCP"))
        object.__setattr__(self, "lam", check_positive("lam", self.lam, cls="MCP"))

    def value(self, x: Tensor) -> Tensor:
        """Return ``sum MCP(x_i; lam, a)``."""
        t = work_tensor(x).abs()
        a, lam = self.a, self.lam
        v = torch.where(t <= a * lam, lam * t - t * t / (2 * a), torch.full_like(t, a * lam**2 / 2))
        return v.sum().to(x.dtype)

    def prox(self, x: Tensor, step: Step) -> Tensor:
        """Return ``mcp_threshold(x, step, a, lam)``."""
        return mcp_threshold(x, step, self.a, self.lam)

    def subgradient(self, x: Tensor, eps: float = 1e-8) -> Tensor:
        """Return ``sign(x)(lam - |x|/a)`` for ``|x| <= a lam``, else 0 (``eps`` unused)."""
        xw = work_tensor(x)
        t = xw.abs()
        g = torch.where(t <= self.a * self.lam, torch.sign(xw) * (self.lam - t / self.a), 0.0)
        return g.to(x.dtype)

    def threshold(self, step: Step) -> Tensor:
        """Dead-zone half-width: ``step * lam`` if ``step < a``, else ``lam sqrt(a step)``."""
        s = torch.as_tensor(step, dtype=torch.float64)
        return torch.where(s < self.a, s * self.lam, self.lam * torch.sqrt(self.a * s))
