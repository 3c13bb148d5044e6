"""Carving a validation split out of a training set: stratified, grouped or plain, all seeded.

Which rule applies:

- **groups** (``groups=`` or ``dataset.groups``, e.g. the subject of each eye crop): whole groups
  go to validation, so no group is on both sides. Groups are taken in a seeded random order until
  the validation set holds at least ``round(fraction * N)`` samples.
- **class ids** (integer ``y``) with ``stratify=True``: each class ``c`` with ``n_c`` samples gives
  ``round(fraction * n_c)`` of them (rounded half up), at least 1 when ``n_c >= 2`` and never all
  of them (a class keeps one training sample); a class with one sample stays in training. With
  ``per_class=k`` each class gives ``min(k, n_c - 1)``.
- otherwise (regression targets, or ``stratify=False``): ``round(fraction * N)`` samples drawn at
  random, at least 1 and at most ``N - 1``.

Both returned datasets keep the original order of their samples, and the same seed always gives
the same split.

Example:
    >>> import torch
    >>> from slimkit.data.dataset import ArrayDataset
    >>> ds = ArrayDataset(torch.zeros(10, 1, 2, 2, dtype=torch.uint8),
    ...                   torch.tensor([0] * 6 + [1] * 4), ["a", "b"])
    >>> train, val = carve_val(ds, fraction=0.25, seed=0)
    >>> torch.bincount(val.y).tolist(), len(train)
    ([2, 1], 7)
"""

from __future__ import annotations

import math
from numbers import Real

import torch

from slimkit.data.dataset import ArrayDataset


def _round_half_up(value: float) -> int:
    return int(math.floor(value + 0.5))


def _check_fraction(fraction: object) -> float:
    ok = isinstance(fraction, Real) and not isinstance(fraction, bool)
    if not ok or not 0.0 < float(fraction) < 1.0:  # type: ignore[arg-type]
        raise ValueError(f"data.val_fraction: expected a number in (0, 1), got {fraction!r}")
    return float(fraction)  # type: ignore[arg-type]


def _check_per_class(per_class: object) -> int:
    if isinstance(per_class, bool) or not isinstance(per_class, int) or per_class < 1:
        raise ValueError(f"data.val_per_class: expected a positive integer, got {per_class!r}")
    return per_class


def _grouped(groups: torch.Tensor, fraction: float, gen: torch.Generator) -> torch.Tensor:
    """Boolean validation mask that keeps each group whole."""
    unique, inverse, counts = torch.unique(groups, return_inverse=True, return_counts=True)
    if len(unique) < 2:
        raise ValueError(
            f"data.val_fraction: splitting by group needs at least 2 groups, got {len(unique)}"
        )
    target = max(1, _round_half_up(fraction * len(groups)))
    order = torch.randperm(len(unique), generator=gen)  # groups in a seeded random order
    cumulative = torch.cumsum(counts[order], 0)  # samples in val after taking k+1 groups
    # the fewest groups that reach the target; at least one, and one group stays in training
    taken = int(torch.searchsorted(cumulative, target)) + 1
    taken = min(max(taken, 1), len(unique) - 1)
    in_val = torch.zeros(len(unique), dtype=torch.bool)
    in_val[order[:taken]] = True
    return in_val[inverse]


def _stratified(
    y: torch.Tensor, fraction: float | None, per_class: int | None, gen: torch.Generator
) -> torch.Tensor:
    """Boolean validation mask with a fixed count per class."""
    n = len(y)
    perm = torch.randperm(n, generator=gen)
    y_perm = y[perm]
    order = torch.sort(y_perm, stable=True).indices  # by class, shuffled inside each class
    sorted_labels = y_perm[order]
    counts = torch.bincount(sorted_labels)  # (num_classes,)
    if per_class is not None:
        want = torch.full_like(counts, per_class)
    else:
        assert fraction is not None
        want = torch.floor(counts.double() * fraction + 0.5).long()
        want = torch.where(counts >= 2, want.clamp_min(1), want)
    want = torch.minimum(want, (counts - 1).clamp_min(0))  # a class keeps a training sample
    starts = torch.cumsum(counts, 0) - counts  # first position of each class in the sorted list
    rank_in_class = torch.arange(n) - starts[sorted_labels]
    mask = torch.zeros(n, dtype=torch.bool)
    mask[perm[order[rank_in_class < want[sorted_labels]]]] = True
    return mask


def carve_val(
    dataset: ArrayDataset,
    *,
    fraction: float | None = None,
    per_class: int | None = None,
    seed: int,
    stratify: bool = True,
    groups: torch.Tensor | None = None,
) -> tuple[ArrayDataset, ArrayDataset]:
    """Split ``dataset`` into (train, val); see the module docstring for the rules.

    Args:
        dataset: The training set to split.
        fraction: Share of samples that go to validation, in (0, 1).
        per_class: Validation samples per class instead of a fraction (class ids only, no groups).
        seed: Seed of every random choice; the same seed gives the same split.
        stratify: Keep class proportions (class ids only).
        groups: Group of each sample (``int (N,)``); defaults to ``dataset.groups``. When set, the
            split is by group.

    Returns:
        ``(train, val)``, disjoint, together holding every sample once.

    Raises:
        ValueError: a one-line message naming ``data.val_fraction`` or ``data.val_per_class``.

    Example:
        >>> import torch
        >>> from slimkit.data.dataset import ArrayDataset
        >>> ds = ArrayDataset(torch.zeros(6, 1, 2, 2, dtype=torch.uint8), torch.rand(6), [],
        ...                   groups=torch.tensor([0, 0, 1, 1, 2, 2]))
        >>> train, val = carve_val(ds, fraction=0.3, seed=1)
        >>> len(val), set(val.groups.tolist()) & set(train.groups.tolist())
        (2, set())
    """
    if (fraction is None) == (per_class is None):
        raise ValueError(
            "data.val_fraction: give exactly one of data.val_fraction and data.val_per_class, got "
            f"val_fraction={fraction!r}, val_per_class={per_class!r}"
        )
    frac = _check_fraction(fraction) if fraction is not None else None
    k = _check_per_class(per_class) if per_class is not None else None
    n = len(dataset)
    if n < 2:
        field = "data.val_fraction" if frac is not None else "data.val_per_class"
        raise ValueError(f"{field}: need at least 2 training samples to carve a split, got {n}")
    if not hasattr(dataset, "y"):  # boxes or label maps (COCO-style): a seeded random split
        if k is not None:
            raise ValueError(
                "data.val_per_class: needs class labels, but this dataset holds boxes or label "
                "maps; use data.val_fraction"
            )
        assert frac is not None
        n_val = min(max(_round_half_up(frac * n), 1), n - 1)
        perm = torch.randperm(n, generator=torch.Generator().manual_seed(int(seed)))
        return dataset.subset(perm[n_val:].sort().values), dataset.subset(
            perm[:n_val].sort().values
        )
    groups = dataset.groups if groups is None else groups
    if groups is not None and tuple(groups.shape) != (n,):
        raise ValueError(f"groups: expected {n} group ids, got shape {tuple(groups.shape)}")
    gen = torch.Generator().manual_seed(int(seed))
    if k is not None:
        if dataset.is_regression:
            raise ValueError(
                "data.val_per_class: needs class labels, but this dataset has float regression "
                "targets; use data.val_fraction"
            )
        if groups is not None:
            raise ValueError(
                "data.val_per_class: cannot keep groups (subjects) whole per class; use "
                "data.val_fraction"
            )
        mask = _stratified(dataset.y, None, k, gen)
    elif groups is not None:
        assert frac is not None
        mask = _grouped(groups.to(torch.int64), frac, gen)
    elif stratify and not dataset.is_regression:
        mask = _stratified(dataset.y, frac, None, gen)
    else:
        assert frac is not None
        n_val = min(max(_round_half_up(frac * n), 1), n - 1)
        mask = torch.zeros(n, dtype=torch.bool)
        mask[torch.randperm(n, generator=gen)[:n_val]] = True
    if not bool(mask.any()):
        field = "data.val_fraction" if frac is not None else "data.val_per_class"
        raise ValueError(
            f"{field}: no class has 2 or more samples, so no validation sample can be carved"
        )
    if groups is not None and dataset.groups is None:
        # carry the groups that decided the split, so callers can check it
        dataset = ArrayDataset(
            dataset.x, dataset.y, dataset.classes, groups=groups, extras=dataset.extras
        )
    idx = torch.arange(n)
    return dataset.subset(idx[~mask]), dataset.subset(idx[mask])
