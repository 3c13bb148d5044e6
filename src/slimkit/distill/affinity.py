"""Feature affinity (FA) and fast feature affinity (FFA) losses (FAQD digest §2.2, §2.5).

A feature map ``F`` (C × HW per sample) has the affinity ``A = F̂ᵀF̂`` (HW × HW), where ``F̂``
normalizes each pixel's C-vector to unit length (``‖·‖ + eps``, so an all-zero pixel gives a
zero row, never NaN). FA compares student and teacher affinities; channel counts need not match.

Order and reduction. The digest recommends the Frobenius form for both losses (§2.5: the code's
order-1 FFA estimates a different quantity, ~√(2/π)·row-ℓ2,1, 10-60× smaller than order-1 FA),
so ``order=2`` is the default:

- FA:  ``sqrt(mean_n ‖A_s - A_t‖_F² / (HW)²)``  (RMS entry difference, a batch mean);
- FFA: ``sqrt(mean_n mean_j ‖(A_s - A_t) z_j‖² / (HW)²)``, ``z_j`` i.i.d. N(0, I), ``j = 1..k``,
  computed as ``F̂_sᵀ(F̂_s Z) - F̂_tᵀ(F̂_t Z)``: O(C·HW·k) time and O(HW·k) memory, never the
  HW × HW matrix. Since ``E‖Dz‖² = ‖D‖_F²``, FFA² is an unbiased estimate of FA².

``order=1`` gives the code's forms (``mean |A_s - A_t|`` and ``mean_j ‖D z_j‖_1 / (HW)²``, not
comparable to each other), and ``reduction="sum"`` sums over the batch instead of averaging, as
the code does (the code's FA weight 0.1 with batch 100 then equals ~10 on our batch mean).

Each sample gets its own sketch ``Z`` drawn from a dedicated ``torch.Generator`` (the code
reseeds the global RNG inside the loss every call, which freezes ``Z`` and the data order;
digest §2.5, not copied).

Example:
    >>> import torch
    >>> f = torch.rand(2, 8, 4, 4)
    >>> float(fa_loss(f, f)), float(ffa_loss(f, f, k=4))
    (0.0, 0.0)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

EPS = 1e-5


def normalize_pixels(f: torch.Tensor, eps: float = EPS) -> torch.Tensor:
    """``(N, C, H, W)`` → ``(N, C, HW)`` with each pixel's C-vector scaled to unit length.

    Example:
        >>> import torch
        >>> normalize_pixels(torch.ones(1, 4, 2, 2)).norm(dim=1).round().tolist()
        [[1.0, 1.0, 1.0, 1.0]]
    """
    flat = f.float().flatten(2)  # (N, C, HW)
    return flat / (flat.norm(dim=1, keepdim=True) + eps)


def affinity(f: torch.Tensor, eps: float = EPS) -> torch.Tensor:
    """Per-sample cosine affinity ``(N, HW, HW)`` of a feature map ``(N, C, H, W)``.

    Example:
        >>> import torch
        >>> a = affinity(torch.rand(1, 3, 2, 2))
        >>> a.shape, bool(torch.allclose(a, a.transpose(1, 2)))
        (torch.Size([1, 4, 4]), True)
    """
    fn = normalize_pixels(f, eps)
    return fn.transpose(1, 2) @ fn  # (N, HW, C) @ (N, C, HW) -> (N, HW, HW)


def match_size(teacher: torch.Tensor, student: torch.Tensor) -> torch.Tensor:
    """The teacher map bilinearly resized (align_corners=True) to the student's H × W.

    Example:
        >>> import torch
        >>> match_size(torch.rand(1, 2, 8, 8), torch.rand(1, 5, 4, 4)).shape
        torch.Size([1, 2, 4, 4])
    """
    if teacher.shape[-2:] == student.shape[-2:]:
        return teacher
    return F.interpolate(teacher, size=student.shape[-2:], mode="bilinear", align_corners=True)


def _reduce(per_sample: torch.Tensor, order: int, reduction: str) -> torch.Tensor:
    total = per_sample.sum() if reduction == "sum" else per_sample.mean()
    return safe_sqrt(total) if order == 2 else total


def safe_sqrt(x: torch.Tensor, tiny: float = 1e-30) -> torch.Tensor:
    """``sqrt(x)`` whose gradient at ``x = 0`` is 0 instead of ``inf`` (``inf * 0 = NaN``
    upstream when student and teacher features are identical).

    Example:
        >>> import torch
        >>> x = torch.zeros((), requires_grad=True)
        >>> safe_sqrt(x).backward()
        >>> float(x.grad)
        0.0
    """
    positive = x > 0
    return torch.where(positive, x.clamp_min(tiny).sqrt(), torch.zeros_like(x))


def _check(order: int, reduction: str) -> None:
    if order not in (1, 2):
        raise ValueError(f"order: {order!r} is not supported; allowed: 1, 2")
    if reduction not in ("mean", "sum"):
        raise ValueError(f"reduction: {reduction!r} is unknown; allowed: mean, sum")


def fa_loss(
    student: torch.Tensor,
    teacher: torch.Tensor,
    *,
    order: int = 2,
    reduction: str = "mean",
    eps: float = EPS,
) -> torch.Tensor:
    """Exact feature-affinity loss between two maps (teacher resized to the student's size).

    Example:
        >>> import torch
        >>> s, t = torch.rand(2, 4, 3, 3), torch.rand(2, 6, 3, 3)
        >>> bool(fa_loss(s, t) > 0)
        True
    """
    _check(order, reduction)
    teacher = match_size(teacher.detach(), student)
    diff = affinity(student, eps) - affinity(teacher, eps)  # (N, HW, HW)
    hw2 = diff.shape[-1] ** 2
    per = diff.abs().sum((1, 2)) if order == 1 else (diff**2).sum((1, 2))
    return _reduce(per / hw2, order, reduction)


def ffa_loss(
    student: torch.Tensor,
    teacher: torch.Tensor,
    *,
    k: int = 15,
    order: int = 2,
    reduction: str = "mean",
    generator: torch.Generator | None = None,
    sketch: torch.Tensor | None = None,
    eps: float = EPS,
) -> torch.Tensor:
    """Fast feature-affinity loss: FA through a Gaussian sketch of ``k`` columns per sample.

    Args:
        student: ``(N, C_s, H, W)``.
        teacher: ``(N, C_t, H', W')`` (resized to H × W).
        k: sketch size (``num_ensemble`` in the code; default 15).
        order: 2 (Frobenius; default) or 1 (the code's).
        reduction: ``"mean"`` or ``"sum"`` over the batch.
        generator: draws the sketch (on the student's device); ``None``: the global RNG.
        sketch: a given ``(N, HW, k)`` or ``(HW, k)`` sketch instead of a fresh one.
        eps: pixel-norm guard.

    Example:
        >>> import torch
        >>> s, t = torch.rand(2, 4, 6, 6), torch.rand(2, 4, 6, 6)
        >>> bool(ffa_loss(s, t, k=8) > 0)
        True
    """
    _check(order, reduction)
    teacher = match_size(teacher.detach(), student)
    fs, ft = normalize_pixels(student, eps), normalize_pixels(teacher, eps)  # (N, C, HW)
    n, _, hw = fs.shape
    if sketch is None:
        sketch = torch.randn(n, hw, k, generator=generator, device=fs.device)
    sketch = sketch.to(fs.dtype)
    # (N, HW, C) @ ((N, C, HW) @ (N, HW, k)) -> (N, HW, k) for each side: A·Z without A
    p = fs.transpose(1, 2) @ (fs @ sketch) - ft.transpose(1, 2) @ (ft @ sketch)
    per = p.abs().sum(1).mean(-1) if order == 1 else (p**2).sum(1).mean(-1)
    return _reduce(per / hw**2, order, reduction)


class FeatureAdapter(nn.Module):
    """Per-stage student adapter: 1×1 conv (C → C, with bias) then ReLU (digest §2.2).

    Example:
        >>> import torch
        >>> FeatureAdapter(8)(torch.randn(1, 8, 4, 4)).min() >= 0
        tensor(True)
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 1, bias=True)
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.conv(x))
