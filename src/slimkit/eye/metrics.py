"""Metrics of eye-openness models: real open/closed AUC and accuracy, synthetic MAE and
Spearman, and monotonicity over rendered openness sweeps (the names of issue 16's report)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

__all__ = [
    "accuracy_at",
    "best_threshold",
    "mean_spearman_by_group",
    "monotonicity",
    "roc_auc",
    "spearman",
]


def roc_auc(score: torch.Tensor, is_open: torch.Tensor) -> float:
    """ROC AUC of the predicted openness against the open (1) / closed (0) label.

    Example:
        >>> roc_auc(torch.tensor([0.1, 0.4, 0.35, 0.8]), torch.tensor([0, 0, 1, 1]))
        0.75
    """
    from sklearn.metrics import roc_auc_score

    labels = is_open.cpu().numpy().astype(int)
    if labels.min() == labels.max():
        raise ValueError("roc_auc: the labels hold only one class; AUC is undefined")
    return float(roc_auc_score(labels, score.detach().cpu().numpy()))


def best_threshold(score: torch.Tensor, is_open: torch.Tensor) -> float:
    """The openness threshold with the best accuracy on these (validation) predictions: the
    midpoint between consecutive sorted scores that maximizes accuracy.

    Example:
        >>> round(best_threshold(torch.tensor([0.1, 0.2, 0.6, 0.9]), torch.tensor([0, 0, 1, 1])), 6)
        0.4
    """
    s = score.detach().cpu().double().numpy()
    y = is_open.cpu().numpy().astype(bool)
    values = np.unique(s)
    cuts = np.concatenate([[values[0] - 1e-6], (values[:-1] + values[1:]) / 2, [values[-1] + 1e-6]])
    accs = [((s > c) == y).mean() for c in cuts]
    return float(cuts[int(np.argmax(accs))])


def accuracy_at(score: torch.Tensor, is_open: torch.Tensor, threshold: float) -> float:
    """Accuracy of ``openness > threshold`` as "open".

    Example:
        >>> round(accuracy_at(torch.tensor([0.1, 0.6, 0.3]), torch.tensor([0, 1, 1]), 0.5), 4)
        0.6667
    """
    return float(((score > threshold) == is_open.bool()).float().mean())


def spearman(a: torch.Tensor, b: torch.Tensor) -> float:
    """Spearman rank correlation (ties get average ranks).

    Example:
        >>> spearman(torch.tensor([0.1, 0.5, 0.3]), torch.tensor([1.0, 3.0, 2.0]))
        1.0
    """
    from scipy.stats import spearmanr

    x, y = a.detach().cpu().double().numpy(), b.detach().cpu().double().numpy()
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        return 0.0  # a constant prediction carries no ranking
    return float(spearmanr(x, y).statistic)


def mean_spearman_by_group(pred: torch.Tensor, level: torch.Tensor, group: torch.Tensor) -> float:
    """Mean over the groups (e.g. rendered identities) of the Spearman correlation between the
    prediction and the level within each group.

    Example:
        >>> pred = torch.tensor([0.1, 0.2, 0.3, 0.3, 0.2, 0.1])
        >>> mean_spearman_by_group(pred, torch.tensor([0.0, 0.5, 1.0] * 2), torch.tensor([0, 0, 0, 1, 1, 1]))
        0.0
    """
    return float(np.mean([spearman(pred[group == g], level[group == g]) for g in group.unique()]))


def monotonicity(
    predict: Callable[[torch.Tensor], torch.Tensor],
    *,
    identities: int = 50,
    levels: int = 21,
    size: int = 48,
    mode: str = "ir",
    seed: int = 12345,
) -> float:
    """Mean over ``identities`` rendered eyes of the Spearman correlation between the
    prediction and the openness level, each swept over ``levels`` values from 0 to 1.

    Args:
        predict: uint8 images ``(n, 1, size, size)`` -> openness ``(n,)``.
    """
    from slimkit.eye.render import sweep_identities

    batch = sweep_identities(identities, levels, size=size, mode=mode, seed=seed)
    pred = predict(batch.images).detach().cpu().reshape(-1)
    identity = torch.arange(identities).repeat_interleave(levels)
    return mean_spearman_by_group(pred, batch.openness, identity)
