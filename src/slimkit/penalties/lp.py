"""The l_p quasi-norm penalty ``R(x) = sum |x_i|^p``, ``0 < p < 1`` (digest §2.3-2.5, §4.2)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from slimkit.penalties.base import Penalty, Step, work_tensor
from slimkit.penalties.thresholding import gst_threshold, half_threshold, two_thirds_threshold

_CLOSED_FORM_TOL = 1e-12


@dataclass(frozen=True)
class Lp(Penalty):
    """``sum |x|^p`` with ``0 < p < 1``.

    The prox dispatches on ``p``: ``p = 1/2`` uses half thresholding (digest §2.3), ``p = 2/3``
    the Cao-Sun-Xu closed form (§2.4), any other ``p`` the GST fixed point with ``n_iter``
    iterations (§2.5). The subgradient is the guarded ``sign(x) p max(|x|, eps)^(p-1)``, exactly 0
    at ``x = 0`` (§4.2: the unguarded reference code is NaN there).

    Args:
        p: Exponent in ``(0, 1)``.
        n_iter: GST fixed-point iterations (unused for ``p`` in ``{1/2, 2/3}``).

    Example:
        >>> import torch
        >>> pen = Lp(0.5)
        >>> pen.name, [round(v, 4) for v in pen.prox(torch.tensor([1.0, -10.0]), 1.0).tolist()]
        ('l1_2', [0.0, -9.8406])
    """

    p: float
    n_iter: int = 50

    def __post_init__(self) -> None:
        p = self.p
        if isinstance(p, bool) or not isinstance(p, int | float) or not 0 < p < 1:
            hint = "; use 'l1' for p=1" if p == 1 else ""
            raise ValueError(f"Lp: p={p!r} is not allowed (allowed: 0 < p < 1){hint}")
        if isinstance(self.n_iter, bool) or not isinstance(self.n_iter, int) or self.n_iter < 1:
            raise ValueError(f"Lp: n_iter={self.n_iter!r} is not allowed (allowed: int >= 1)")
        object.__setattr__(self, "p", float(p))

    @property
    def name(self) -> str:  # type: ignore[override]
        """``'l1_2'`` for ``p = 1/2``, ``'l2_3'`` for ``p = 2/3``, else ``'lp'``."""
        if abs(self.p - 0.5) < _CLOSED_FORM_TOL:
            return "l1_2"
        if abs(self.p - 2.0 / 3.0) < _CLOSED_FORM_TOL:
            return "l2_3"
        return "lp"

    def value(self, x: Tensor) -> Tensor:
        """Return ``sum |x_i|^p`` (``0^p = 0``)."""
        return (work_tensor(x).abs() ** self.p).sum().to(x.dtype)

    def prox(self, x: Tensor, step: Step) -> Tensor:
        """Return ``prox_{step |.|^p}(x)`` (closed form for ``p`` in ``{1/2, 2/3}``, else GST)."""
        if self.name == "l1_2":
            return half_threshold(x, step)
        if self.name == "l2_3":
            return two_thirds_threshold(x, step)
        return gst_threshold(x, step, self.p, self.n_iter)

    def subgradient(self, x: Tensor, eps: float = 1e-8) -> Tensor:
        """Return ``sign(x) p max(|x|, eps)^(p-1)``, which is 0 (not NaN) at ``x = 0``."""
        xw = work_tensor(x)
        g = torch.sign(xw) * self.p * xw.abs().clamp_min(eps) ** (self.p - 1)
        return g.to(x.dtype)

    def threshold(self, step: Step) -> Tensor:
        """Dead-zone half-width ``T = x* (2-p) / (2(1-p))``, ``x* = (2 step (1-p))^(1/(2-p))``."""
        p = self.p
        x_star = (2 * torch.as_tensor(step, dtype=torch.float64) * (1 - p)) ** (1 / (2 - p))
        return x_star * (2 - p) / (2 * (1 - p))

    def jump(self, step: Step) -> Tensor:
        """Output magnitude just above the threshold: ``x* = (2 step (1-p))^(1/(2-p))``."""
        return (2 * torch.as_tensor(step, dtype=torch.float64) * (1 - self.p)) ** (1 / (2 - self.p))
