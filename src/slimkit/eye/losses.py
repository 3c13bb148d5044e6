"""Losses of weakly supervised eye-openness training (all reconstructed, digest §3.3).

The paper's losses are not known. slimkit follows the digest's engineering reconstruction and
makes every choice a parameter:

- :func:`synthetic_loss`: SmoothL1 (Huber) or L1 between the predicted openness ``ô`` and the
  exact synthetic openness ``o``;
- :func:`weak_hinge`: on real images labelled only open/closed, a one-sided squared hinge:
  closed images pay ``max(0, ô - t_closed)^2``, open ones ``max(0, t_open - ô)^2`` (exactly 0,
  with a zero gradient, once every constraint holds);
- :func:`pairwise_ranking`: every open image above every closed image of the batch by a margin,
  ``mean max(0, margin - (ô_open - ô_closed))``;
- domain alignment between synthetic and real features: :func:`coral` (the default: match the
  feature covariances, Sun & Saenko 2016), :func:`mmd` (Gaussian-kernel maximum mean
  discrepancy) or DANN's :func:`grad_reverse` in front of a domain classifier.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["coral", "grad_reverse", "mmd", "pairwise_ranking", "synthetic_loss", "weak_hinge"]


def synthetic_loss(pred: torch.Tensor, target: torch.Tensor, kind: str = "huber",
                   beta: float = 0.05) -> torch.Tensor:  # fmt: skip
    """Regression of the exact synthetic openness: ``"huber"`` (SmoothL1 with ``beta``) or
    ``"l1"``.

    Example:
        >>> float(synthetic_loss(torch.tensor([0.5, 0.2]), torch.tensor([0.5, 0.7]), "l1"))
        0.25
    """
    if kind == "huber":
        return F.smooth_l1_loss(pred, target, beta=beta)
    if kind == "l1":
        return F.l1_loss(pred, target)
    raise ValueError(f"eye.synthetic_loss: expected 'huber' or 'l1', got {kind!r}")


def weak_hinge(
    pred: torch.Tensor, is_open: torch.Tensor, t_closed: float = 0.2, t_open: float = 0.5
) -> torch.Tensor:
    """Squared one-sided hinge on open/closed labels (mean over the batch; 0 for no images).

    Example:
        >>> pred = torch.tensor([0.1, 0.9, 0.4, 0.3])
        >>> float(weak_hinge(pred[:2], torch.tensor([0, 1])))  # both constraints hold
        0.0
        >>> round(float(weak_hinge(pred[2:], torch.tensor([0, 1]))), 4)  # (0.2^2 + 0.2^2) / 2
        0.04
    """
    if not 0.0 <= t_closed <= t_open <= 1.0:
        raise ValueError(
            f"eye weak margins: need 0 <= t_closed <= t_open <= 1, got {t_closed}, {t_open}"
        )
    if pred.numel() == 0:
        return pred.sum()
    open_mask = is_open.bool()
    closed = F.relu(pred - t_closed) ** 2
    opened = F.relu(t_open - pred) ** 2
    return torch.where(open_mask, opened, closed).mean()


def pairwise_ranking(
    pred: torch.Tensor, is_open: torch.Tensor, margin: float = 0.2
) -> torch.Tensor:
    """Every open image above every closed one by ``margin`` (mean hinge over all pairs; 0 when
    the batch lacks one of the two classes).

    Example:
        >>> float(pairwise_ranking(torch.tensor([0.9, 0.1]), torch.tensor([1, 0])))
        0.0
        >>> round(float(pairwise_ranking(torch.tensor([0.3, 0.2]), torch.tensor([1, 0]))), 4)
        0.1
    """
    open_mask = is_open.bool()
    hi, lo = pred[open_mask], pred[~open_mask]
    if hi.numel() == 0 or lo.numel() == 0:
        return pred.sum() * 0.0
    return F.relu(margin - (hi[:, None] - lo[None, :])).mean()


def coral(source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """CORAL: squared Frobenius distance of the two feature covariances / (4 d^2).

    Example:
        >>> x = torch.randn(64, 8, generator=torch.Generator().manual_seed(0))
        >>> float(coral(x, x)), bool(coral(x, 3 * x) > 0)
        (0.0, True)
    """
    d = source.shape[1]

    def cov(f: torch.Tensor) -> torch.Tensor:
        f = f - f.mean(0, keepdim=True)
        return f.t() @ f / max(f.shape[0] - 1, 1)

    return ((cov(source) - cov(target)) ** 2).sum() / (4 * d * d)


def mmd(source: torch.Tensor, target: torch.Tensor, bandwidths: tuple[float, ...] = (1, 4, 16)) -> torch.Tensor:  # fmt: skip
    """Biased squared MMD with a sum of Gaussian kernels (bandwidths relative to the mean
    squared distance).

    Example:
        >>> x = torch.randn(32, 4, generator=torch.Generator().manual_seed(0))
        >>> abs(float(mmd(x, x))) < 1e-6, bool(mmd(x, x + 2) > 0.1)
        (True, True)
    """
    joint = torch.cat([source, target])
    d2 = torch.cdist(joint, joint).pow(2)
    scale = d2.detach().mean().clamp(min=1e-12)
    k = sum(torch.exp(-d2 / (b * scale)) for b in bandwidths)
    n = source.shape[0]
    return k[:n, :n].mean() + k[n:, n:].mean() - 2 * k[:n, n:].mean()


class _GradReverse(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor, weight: float) -> torch.Tensor:  # noqa: ANN001
        ctx.weight = weight
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):  # noqa: ANN001, ANN205
        return -ctx.weight * grad, None


def grad_reverse(x: torch.Tensor, weight: float = 1.0) -> torch.Tensor:
    """DANN's gradient reversal: identity forward, gradient times ``-weight`` backward.

    Example:
        >>> x = torch.ones(2, requires_grad=True)
        >>> grad_reverse(x, 0.5).sum().backward()
        >>> x.grad.tolist()
        [-0.5, -0.5]
    """
    return _GradReverse.apply(x, weight)
