"""Closed-form elementwise proximal operators (digest ``network_slimming_family.md`` §2).

Every function returns ``prox_{lam*R}(y) = argmin_x 1/2 (x - y)^2 + lam * R(x)`` (half convention,
digest §1) for a whole tensor at once: no Python loop over entries, any device, float32 or float64
(float16/bfloat16 are computed in float32 and cast back). ``lam`` is a number ``>= 0`` or a tensor
broadcastable to ``y``. All operators are odd, monotone non-decreasing and return exact zeros in
their dead zone ``|y| <= T(lam)``; at a tie ``|y| = T`` they return 0.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable

import torch
from torch import Tensor

from slimkit.penalties.base import Step, as_step, tiny, work_tensor


def _odd(y: Tensor, lam: Step, magnitude: Callable[[Tensor, Tensor], Tensor]) -> Tensor:
    """Apply ``sign(y) * magnitude(|y|, lam)`` in a safe dtype and return ``y``'s dtype."""
    yw = work_tensor(y)
    lam_t = as_step(lam, yw)
    out = torch.sign(yw) * magnitude(yw.abs(), lam_t)
    return out.to(y.dtype)


def soft_threshold(y: Tensor, lam: Step) -> Tensor:
    """Soft thresholding, the prox of ``lam*|x|`` (digest §2.1): ``sign(y) max(|y| - lam, 0)``.

    Example:
        >>> import torch
        >>> soft_threshold(torch.tensor([-3.0, 0.5, 2.0]), 1.0)
        tensor([-2.,  0.,  1.])
    """
    return _odd(y, lam, lambda t, lam_t: torch.clamp(t - lam_t, min=0))


def hard_threshold(y: Tensor, lam: Step) -> Tensor:
    """Hard thresholding, the prox of ``lam*1[x != 0]`` (digest §2.2).

    Keeps ``y`` where ``|y| > sqrt(2 lam)`` (strictly, as the reference code does) and returns 0
    elsewhere; the jump at the threshold has size ``sqrt(2 lam)``.

    Example:
        >>> import torch
        >>> hard_threshold(torch.tensor([-3.0, 1.0, 2.0]), 0.5)
        tensor([-3.,  0.,  2.])
    """
    return _odd(y, lam, lambda t, lam_t: torch.where(t > torch.sqrt(2 * lam_t), t, 0.0))


def half_threshold(y: Tensor, lam: Step) -> Tensor:
    """Half thresholding, the prox of ``lam*|x|^(1/2)`` (Xu et al., TNNLS 2012; digest §2.3).

    ``T = 1.5 lam^(2/3)``; for ``|y| > T``:
    ``x = (2/3) y [1 + cos(2 pi/3 - (2/3) phi)]`` with ``phi = arccos((lam/4) (|y|/3)^(-3/2))``.
    Just above ``T`` the output jumps to ``lam^(2/3)``.

    Example:
        >>> import torch
        >>> half_threshold(torch.tensor([1.0, 1.6, -10.0]), 1.0)
        tensor([ 0.0000,  1.1295, -9.8406])
    """

    def mag(t: Tensor, lam_t: Tensor) -> Tensor:
        thr = 1.5 * lam_t ** (2.0 / 3.0)
        ts = torch.maximum(t, thr).clamp_min(tiny(t))  # the dead zone is masked below
        phi = torch.arccos((lam_t / 4) * (ts / 3) ** -1.5)
        x = (2.0 / 3.0) * ts * (1 + torch.cos(2 * math.pi / 3 - (2.0 / 3.0) * phi))
        return torch.where(t > thr, x, 0.0)

    return _odd(y, lam, mag)


def two_thirds_threshold(y: Tensor, lam: Step) -> Tensor:
    """The prox of ``lam*|x|^(2/3)`` (Cao, Sun, Xu, JVCIR 2013; digest §2.4).

    With ``L = 2 lam`` (their convention): ``T = 2 (L/3)^(3/4)``; for ``|y| > T``:
    ``phi = arccosh(27 y^2 / (16 L^(3/2)))``, ``A = (2/sqrt 3) L^(1/4) sqrt(cosh(phi/3))`` and
    ``x = sign(y) [(A + sqrt(2|y|/A - A^2)) / 2]^3``. ``arccosh`` is evaluated in log form,
    ``log z + log(1 + sqrt(1 - 1/z^2))``, and ``L^(1/2) cosh(phi/3)`` as a sum of two exponentials,
    so tiny ``lam`` neither overflows nor loses the limit ``x -> y``. The jump at ``T`` is ``T/2``.

    Example:
        >>> import torch
        >>> two_thirds_threshold(torch.tensor([1.0, 2.0, -10.0]), 1.0)
        tensor([ 0.0000,  1.4047, -9.6873])
    """

    def mag(t: Tensor, lam_t: Tensor) -> Tensor:
        big_l = (2 * lam_t).clamp_min(tiny(t))
        thr = 2 * (big_l / 3) ** 0.75
        ts = torch.maximum(t, thr).clamp_min(tiny(t))
        log_l = torch.log(big_l)
        log_z = math.log(27.0 / 16.0) + 2 * torch.log(ts) - 1.5 * log_l  # z >= 1 above T
        inv_z2 = torch.exp(-2 * log_z).clamp(max=1.0)
        phi = log_z + torch.log1p(torch.sqrt(1 - inv_z2))  # arccosh(z)
        # A^2 = (4/3) L^(1/2) cosh(phi/3), written with exponentials that cannot overflow.
        a2 = (2.0 / 3.0) * (torch.exp(0.5 * log_l + phi / 3) + torch.exp(0.5 * log_l - phi / 3))
        a = torch.sqrt(a2)
        x = ((a + torch.sqrt((2 * ts / a - a2).clamp_min(0))) / 2) ** 3
        return torch.where(t > thr, x, 0.0)

    return _odd(y, lam, mag)


def gst_threshold(y: Tensor, lam: Step, p: float, n_iter: int = 50) -> Tensor:
    """Generalized soft thresholding, the prox of ``lam*|x|^p`` for ``0 < p < 1`` (Zuo et al.,
    ICCV 2013; digest §2.5).

    ``x* = (2 lam (1-p))^(1/(2-p))`` and ``T = x* (2-p) / (2 (1-p))``; for ``|y| > T`` the output is
    ``sign(y) x`` with ``x`` the larger root of ``x - |y| + lam p x^(p-1) = 0``, found by the
    fixed-point iteration ``x <- |y| - lam p x^(p-1)`` started at ``|y|`` (a contraction with rate
    at most ``p/2`` on ``[x*, |y|]``, so ``n_iter = 50`` reaches float64 precision). The jump at
    ``T`` is ``x*``.

    Example:
        >>> import torch
        >>> gst_threshold(torch.tensor([1.0, 1.6, -10.0]), 1.0, p=0.5)
        tensor([ 0.0000,  1.1295, -9.8406])
    """
    if not 0 < p < 1:
        raise ValueError(f"p={p!r} is not allowed (allowed: 0 < p < 1)")

    def mag(t: Tensor, lam_t: Tensor) -> Tensor:
        x_star = (2 * lam_t * (1 - p)) ** (1 / (2 - p))
        thr = x_star * (2 - p) / (2 * (1 - p))
        floor = torch.maximum(x_star, torch.full_like(x_star, tiny(t)))
        ts = torch.maximum(t, thr)
        x = ts
        for _ in range(n_iter):  # fixed iteration count: elementwise on the whole tensor
            x = ts - lam_t * p * torch.maximum(x, floor) ** (p - 1)
        return torch.where(t > thr, x, 0.0)

    return _odd(y, lam, mag)


def tl1_threshold(y: Tensor, lam: Step, a: float) -> Tensor:
    """The prox of ``lam*rho_a`` for transformed l1, ``rho_a(x) = (a+1)|x| / (a+|x|)``
    (Zhang & Xin, Math. Program. 2018; digest §2.6).

    Threshold ``T = lam (a+1)/a`` if ``lam <= a^2 / (2(a+1))`` (continuous regime), else
    ``T = sqrt(2 lam (a+1)) - a/2`` (jump regime). For ``|y| = t > T``:
    ``g = (2/3)(a+t) cos(phi/3) - 2a/3 + t/3`` with ``phi = arccos(1 - 27 lam a (a+1) / (2(a+t)^3))``.
    Computed in the algebraically identical, cancellation-free form
    ``g = t - (4/3)(a+t) sin^2(phi/6)`` with ``phi/6 = arcsin(sqrt(u/2))/3``, ``u = 27 lam a (a+1)
    / (2(a+t)^3)``, which stays accurate in float32 for large ``a`` (soft-thresholding limit).

    Example:
        >>> import torch
        >>> tl1_threshold(torch.tensor([0.5, 3.0, -3.0]), 1.0, a=1.0)
        tensor([ 0.0000,  2.8662, -2.8662])
    """
    if not (math.isfinite(a) and a > 0):
        raise ValueError(f"a={a!r} is not allowed (allowed: a number > 0)")

    def mag(t: Tensor, lam_t: Tensor) -> Tensor:
        soft_regime = lam_t <= a * a / (2 * (a + 1))
        thr = torch.where(soft_regime, lam_t * (a + 1) / a, torch.sqrt(2 * lam_t * (a + 1)) - a / 2)
        u = 27 * lam_t * a * (a + 1) / (2 * (a + t) ** 3)
        phi_6 = torch.arcsin(torch.sqrt((u / 2).clamp(0, 1))) / 3
        g = t - (4.0 / 3.0) * (a + t) * torch.sin(phi_6) ** 2
        return torch.where(t > thr, g, 0.0)

    return _odd(y, lam, mag)


def mcp_threshold(y: Tensor, lam: Step, a: float, lam_mcp: float = 1.0) -> Tensor:
    """The prox of ``lam * MCP(x; lam_mcp, a)`` (firm thresholding; digest §2.10).

    MCP with parameters ``(l, a)``: ``l|x| - x^2/(2a)`` for ``|x| <= a l``, else ``a l^2 / 2``.
    Scaling it by the step ``s = lam`` gives MCP with ``l' = s l`` and ``a' = a/s``, so with
    ``s < a`` (convex case) the output is 0 for ``|y| <= s l``, ``sign(y)(|y| - s l)/(1 - s/a)``
    for ``s l < |y| <= a l`` and ``y`` beyond; at ``s = 1`` this is the digest's firm threshold.
    For ``s >= a`` the objective is concave on ``|x| <= a l`` and the exact prox is hard
    thresholding at ``l sqrt(a s)`` (derived here; checked by brute force in the tests).

    Example:
        >>> import torch
        >>> mcp_threshold(torch.tensor([0.5, 2.0, 5.0]), 1.0, a=3.0)
        tensor([0.0000, 1.5000, 5.0000])
    """

    def mag(t: Tensor, s: Tensor) -> Tensor:
        cut = a * lam_mcp  # = a' * l', independent of the step
        firm = torch.where(
            t > cut, t, (t - s * lam_mcp).clamp_min(0) / (1 - s / a).clamp_min(tiny(t))
        )
        hard = torch.where(t > lam_mcp * torch.sqrt(a * s), t, 0.0)
        return torch.where(s < a, firm, hard)

    return _odd(y, lam, mag)


def scad_value(t: Tensor, lam_scad: float, a: float) -> Tensor:
    """SCAD penalty of ``|x| = t`` (Fan & Li 2001): ``l t`` for ``t <= l``,
    ``(2 a l t - t^2 - l^2) / (2(a-1))`` for ``l < t <= a l``, ``(a+1) l^2 / 2`` beyond.

    Example:
        >>> import torch
        >>> scad_value(torch.tensor([0.5, 2.0, 9.0]), 1.0, 3.7)
        tensor([0.5000, 1.8148, 2.3500])
    """
    lo = lam_scad * t
    mid = (2 * a * lam_scad * t - t * t - lam_scad**2) / (2 * (a - 1))
    hi = torch.full_like(t, (a + 1) * lam_scad**2 / 2)
    return torch.where(t <= lam_scad, lo, torch.where(t <= a * lam_scad, mid, hi))


def scad_threshold(y: Tensor, lam: Step, a: float, lam_scad: float = 1.0) -> Tensor:
    """The prox of ``lam * SCAD(x; lam_scad, a)`` (digest §2.10).

    With step ``s = 1`` this is the digest's rule: ``soft_l(y)`` for ``|y| <= 2l``,
    ``((a-1) y - sign(y) a l) / (a-2)`` for ``2l < |y| <= a l`` and ``y`` beyond. For a general step
    the penalty is minimized exactly piece by piece: on ``[0, l]`` the minimizer is
    ``clip(t - s l, 0, l)``; on ``[l, a l]`` it is ``clip(((a-1) t - s a l) / (a-1-s), l, a l)`` when
    ``s < a-1`` (convex piece) and an endpoint otherwise; beyond ``a l`` it is ``max(t, a l)``. The
    candidate with the smallest objective wins (ties go to the smaller magnitude). For a number
    ``s < a-1`` the resulting closed form ``soft_{s l}`` for ``|y| <= (1+s) l``,
    ``sign(y)((a-1)|y| - s a l)/(a-1-s)`` up to ``a l``, ``y`` beyond, is used directly.

    Example:
        >>> import torch
        >>> scad_threshold(torch.tensor([0.5, 1.5, 3.0, 5.0]), 1.0, a=3.7)
        tensor([0.0000, 0.5000, 2.5882, 5.0000])
    """

    if isinstance(lam, numbers.Real) and 0 <= lam < a - 1:
        # Convex case with a host-side step: the closed form directly (fast path).
        def closed(t: Tensor, s: Tensor) -> Tensor:
            l_ = lam_scad
            mid = ((a - 1) * t - s * a * l_) / (a - 1 - s)
            inner = torch.where(t <= (1 + s) * l_, (t - s * l_).clamp_min(0), mid)
            return torch.where(t <= a * l_, inner, t)

        return _odd(y, lam, closed)

    def mag(t: Tensor, s: Tensor) -> Tensor:
        l_ = lam_scad
        c1 = torch.minimum((t - s * l_).clamp_min(0), torch.full_like(t, l_))
        denom = a - 1 - s
        stat = ((a - 1) * t - s * a * l_) / torch.where(denom > 0, denom, 1.0)
        c2 = torch.where(denom > 0, stat.clamp(l_, a * l_), torch.full_like(t, l_))
        c3 = torch.maximum(t, torch.full_like(t, a * l_))
        cands = torch.stack([c1, c2, c3])  # (3, *t.shape)
        obj = 0.5 * (cands - t) ** 2 + s * scad_value(cands, l_, a)
        best = torch.argmin(obj, dim=0, keepdim=True)  # first minimum: smaller candidate on ties
        return torch.gather(cands, 0, best).squeeze(0)

    return _odd(y, lam, mag)
