"""Weak-supervision losses and eye metrics (digest §3.4 checks 2 and 3)."""

from __future__ import annotations

import torch

from slimkit.eye.losses import coral, pairwise_ranking, weak_hinge
from slimkit.eye.metrics import best_threshold, monotonicity, roc_auc


def test_weak_hinge_is_exactly_zero_with_zero_gradient_when_constraints_hold():
    pred = torch.tensor([0.0, 0.2, 0.5, 1.0], requires_grad=True)
    labels = torch.tensor([0, 0, 1, 1])
    loss = weak_hinge(pred, labels, t_closed=0.2, t_open=0.5)
    loss.backward()
    assert float(loss) == 0.0 and pred.grad.abs().sum() == 0
    violated = torch.tensor([0.3, 0.45], requires_grad=True)
    loss = weak_hinge(violated, torch.tensor([0, 1]), t_closed=0.2, t_open=0.5)
    loss.backward()
    assert float(loss) > 0
    assert violated.grad[0] > 0 and violated.grad[1] < 0  # closed pushed down, open pushed up


def test_ranking_and_coral_vanish_only_when_satisfied():
    labels = torch.tensor([1, 1, 0, 0])
    assert float(pairwise_ranking(torch.tensor([0.9, 0.8, 0.1, 0.2]), labels)) == 0.0
    assert float(pairwise_ranking(torch.tensor([0.5, 0.8, 0.4, 0.2]), labels, margin=0.2)) > 0
    assert float(pairwise_ranking(torch.tensor([0.5, 0.8]), torch.tensor([1, 1]))) == 0.0
    x = torch.randn(128, 6, generator=torch.Generator().manual_seed(1))
    assert float(coral(x, x)) == 0.0 and float(coral(x, 2 * x)) > 0.01


def test_metrics_on_a_perfect_and_a_constant_predictor():
    # The rendered level itself through a fixed brightness cue would be cheating; use the exact
    # aperture: a predictor that knows the openness ranks every sweep perfectly.
    from slimkit.eye.render import sweep_identities

    sweep = sweep_identities(3, 5, size=24, seed=4)
    lookup = {
        bytes(img.numpy()): float(o) for img, o in zip(sweep.images, sweep.openness, strict=True)
    }

    def oracle(images: torch.Tensor) -> torch.Tensor:
        return torch.tensor([lookup[bytes(img.numpy())] for img in images])

    assert abs(monotonicity(oracle, identities=3, levels=5, size=24, seed=4) - 1.0) < 1e-9
    assert (
        monotonicity(lambda im: torch.zeros(len(im)), identities=3, levels=5, size=24, seed=4)
        == 0.0
    )
    score, labels = torch.tensor([0.1, 0.3, 0.6, 0.7]), torch.tensor([0, 0, 1, 1])
    assert roc_auc(score, labels) == 1.0
    assert abs(best_threshold(score, labels) - 0.45) < 1e-6
