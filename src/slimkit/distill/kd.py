"""Logit distillation losses (FAQD digest §2.3).

- :func:`kd_kl`: Hinton's ``KL(softmax(z_t/T) ‖ softmax(z_s/T))·T²``, averaged over the batch
  (the authors' code sums over the batch; a mean keeps the weight independent of batch size).
- :func:`kd_mse`: mean squared error between the logits (the code's default), averaged over
  batch × classes. The two are on different scales: re-tune the weight when switching.

Example:
    >>> import torch
    >>> z = torch.randn(4, 10)
    >>> float(kd_kl(z, z, 4.0)) == 0.0, float(kd_mse(z, z))
    (True, 0.0)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def kd_kl(student: torch.Tensor, teacher: torch.Tensor, temperature: float = 4.0) -> torch.Tensor:
    """KL divergence from the teacher's to the student's softened distribution, times ``T²``.

    Args:
        student: student logits ``(N, K)``.
        teacher: teacher logits ``(N, K)`` (no gradient is taken through them).
        temperature: ``T > 0``.

    Example:
        >>> import torch
        >>> s, t = torch.tensor([[0.0, 0.0]]), torch.tensor([[0.0, 100.0]])
        >>> round(float(kd_kl(s, t, 1.0)), 4)  # KL(one-hot ‖ uniform) = log 2
        0.6931
    """
    if not temperature > 0:
        raise ValueError(f"kd.temperature: expected > 0, got {temperature!r}")
    log_p_s = F.log_softmax(student.float() / temperature, dim=1)
    log_p_t = F.log_softmax(teacher.detach().float() / temperature, dim=1)
    kl = F.kl_div(log_p_s, log_p_t, reduction="batchmean", log_target=True)
    return kl * temperature**2


def kd_mse(student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
    """Mean squared error between student and teacher logits.

    Example:
        >>> import torch
        >>> float(kd_mse(torch.zeros(2, 3), torch.ones(2, 3)))
        1.0
    """
    return F.mse_loss(student.float(), teacher.detach().float())
