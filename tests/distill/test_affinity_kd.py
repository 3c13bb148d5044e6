"""FA/FFA closed-form properties, FFA accuracy against exact FA, KD losses, adapters."""

from __future__ import annotations

import math

import pytest
import torch

from slimkit.distill import affinity, fa_loss, ffa_loss, kd_kl, kd_mse


def _feats(n: int, c: int, h: int, seed: int = 0) -> torch.Tensor:
    return torch.relu(torch.randn(n, c, h, h, generator=torch.Generator().manual_seed(seed)))


def test_affinity_properties() -> None:
    f = _feats(2, 8, 4)
    a = affinity(f)
    assert torch.allclose(a, a.transpose(1, 2), atol=1e-6)
    nonzero = f.flatten(2).norm(dim=1) > 0
    assert torch.allclose(torch.diagonal(a, dim1=1, dim2=2)[nonzero], torch.ones(1), atol=1e-4)
    assert a.min() >= -1 - 1e-6 and a.max() <= 1 + 1e-6
    assert torch.linalg.eigvalsh(a.double()).min() > -1e-5  # PSD
    q, _ = torch.linalg.qr(torch.randn(8, 8, dtype=torch.float64))
    rotated = torch.einsum("dc,nchw->ndhw", q.float(), f)
    scaled = f * (torch.rand(2, 1, 4, 4) + 0.5)  # positive per-pixel scaling
    assert torch.allclose(affinity(rotated), a, atol=1e-5)
    assert torch.allclose(affinity(scaled), a, atol=1e-5)


def test_zero_pixel_gives_no_nan_and_fa_self_is_zero() -> None:
    f = _feats(1, 4, 3)
    f[:, :, 0, 0] = 0
    assert torch.isfinite(affinity(f)).all()
    assert float(fa_loss(f, f)) == 0.0 and float(ffa_loss(f, f)) == 0.0


def test_fa_closed_form_and_gradient_only_to_student() -> None:
    s = _feats(2, 4, 3, seed=1).requires_grad_(True)
    t = _feats(2, 6, 3, seed=2).requires_grad_(True)
    d = affinity(s.detach()) - affinity(t.detach())
    expected = math.sqrt(float((d**2).sum((1, 2)).mean()) / 81)
    loss = fa_loss(s, t)
    assert abs(float(loss.detach()) - expected) < 1e-5
    assert abs(float(fa_loss(s, t, order=1).detach()) - float(d.abs().mean())) < 1e-6
    loss.backward()
    assert s.grad is not None and t.grad is None


def test_teacher_is_resized_to_student_resolution() -> None:
    t = _feats(1, 4, 8)
    assert float(fa_loss(t, t)) == 0.0
    assert fa_loss(_feats(1, 4, 4), t).shape == ()


def test_ffa_relative_error_within_15_percent_at_default_k() -> None:
    errors = []
    for trial in range(20):
        for c, h in ((16, 32), (32, 16), (64, 8)):
            t = _feats(8, c, h, seed=trial)
            s = torch.relu(
                t + 0.5 * torch.randn(t.shape, generator=torch.Generator().manual_seed(99 + trial))
            )
            gen = torch.Generator().manual_seed(trial)
            exact, fast = fa_loss(s, t), ffa_loss(s, t, generator=gen)  # default k = 15
            errors.append(abs(float(fast) / float(exact) - 1))
    assert max(errors) <= 0.15, max(errors)


def test_ffa_squared_is_unbiased_for_fa_squared() -> None:
    s, t = _feats(1, 8, 6, seed=3), _feats(1, 8, 6, seed=4)
    exact = float(fa_loss(s, t)) ** 2
    gen = torch.Generator().manual_seed(0)
    draws = [float(ffa_loss(s, t, k=15, generator=gen)) ** 2 for _ in range(400)]
    mean = sum(draws) / len(draws)
    assert abs(mean / exact - 1) < 0.05  # Monte-Carlo error ~ sqrt(2/(15*400)) = 1.8 %


def test_kd_losses() -> None:
    s, t = torch.randn(5, 10), torch.randn(5, 10)
    p_t = torch.softmax(t / 3, 1)
    manual = (p_t * (p_t.log() - torch.log_softmax(s / 3, 1))).sum(1).mean() * 9
    assert torch.allclose(kd_kl(s, t, 3.0), manual, atol=1e-5)
    assert torch.allclose(kd_mse(s, t), ((s - t) ** 2).mean())


@pytest.mark.parametrize("loss", ["fa", "ffa"])
def test_affinity_gradient_is_finite_at_identical_features(loss):
    """sqrt at 0 has an infinite derivative; the loss must still give a finite gradient when the
    student equals the teacher (it was NaN before the safe square root)."""
    teacher = torch.rand(2, 8, 4, 4)
    teacher[0, :, 0, 0] = 0  # an all-zero pixel too
    student = teacher.clone().requires_grad_(True)
    fn = fa_loss if loss == "fa" else (lambda s, t: ffa_loss(s, t, k=4))
    value = fn(student, teacher)
    value.backward()
    assert float(value) == 0.0
    assert torch.isfinite(student.grad).all()
