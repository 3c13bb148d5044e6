"""In-memory dataset containers: uint8 image tensors plus class ids or regression targets."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import torch


@dataclass
class ArrayDataset:
    """An image set held in memory, with class ids (classification) or float targets (regression).

    The dtype of ``y`` tells the two apart: an integer ``y`` holds class ids (stored as
    ``int64 (N,)``); a floating ``y`` holds regression targets, ``(N,)`` or ``(N, D)`` (stored as
    ``float32``).

    Attributes:
        x: Images, ``uint8`` tensor of shape ``(N, C, H, W)``, contiguous.
        y: Class ids, ``int64 (N,)``; or regression targets, ``float32 (N,)`` or ``(N, D)``.
        classes: Class names (``classes[k]`` names label ``k``); for regression, the names of the
            target's ``D`` components (may be empty).
        groups: Optional ``int64 (N,)`` group of each sample (e.g. the subject an eye belongs to):
            validation splits keep a group on one side (:func:`slimkit.data.split.carve_val`).
        extras: Further per-sample tensors (first dimension ``N``), e.g. CIFAR-100's ``y_coarse``;
            :meth:`subset` keeps them aligned.

    Example:
        >>> import torch
        >>> ds = ArrayDataset(torch.zeros(4, 3, 8, 8, dtype=torch.uint8),
        ...                   torch.tensor([0, 1, 0, 1]), ["a", "b"])
        >>> len(ds), ds.x.shape[1:], ds.is_regression
        (4, torch.Size([3, 8, 8]), False)
        >>> reg = ArrayDataset(torch.zeros(4, 1, 8, 8, dtype=torch.uint8),
        ...                    torch.tensor([0.0, 0.5, 1.0, 1.0]), ["openness"],
        ...                    groups=torch.tensor([7, 7, 9, 9]))
        >>> reg.is_regression, reg.target_dim, reg.subset(torch.tensor([3, 0])).groups.tolist()
        (True, 1, [9, 7])
    """

    x: torch.Tensor
    y: torch.Tensor
    classes: list[str]
    groups: torch.Tensor | None = None
    extras: dict[str, torch.Tensor] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.x.dtype != torch.uint8 or self.x.dim() != 4:
            raise ValueError(
                f"x: expected a uint8 tensor of shape (N, C, H, W), got {self.x.dtype} "
                f"{tuple(self.x.shape)}"
            )
        n = self.x.shape[0]
        if self.y.is_floating_point():
            if self.y.dim() not in (1, 2) or self.y.shape[0] != n:
                raise ValueError(
                    f"y: expected regression targets of shape ({n},) or ({n}, D) to match x, got "
                    f"{tuple(self.y.shape)}"
                )
            if self.y.dtype != torch.float32:
                self.y = self.y.to(torch.float32)
        else:
            if self.y.dim() != 1 or self.y.shape[0] != n:
                raise ValueError(f"y: expected shape ({n},) to match x, got {tuple(self.y.shape)}")
            if self.y.dtype != torch.int64:
                self.y = self.y.to(torch.int64)
        if self.groups is not None:
            if self.groups.is_floating_point() or tuple(self.groups.shape) != (n,):
                raise ValueError(
                    f"groups: expected {n} integer group ids, got {self.groups.dtype} "
                    f"{tuple(self.groups.shape)}"
                )
            self.groups = self.groups.to(torch.int64)
        for key, value in self.extras.items():
            if value.dim() == 0 or value.shape[0] != n:
                raise ValueError(
                    f"extras.{key}: expected a first dimension of {n} to match x, got "
                    f"{tuple(value.shape)}"
                )
        if not self.x.is_contiguous():
            self.x = self.x.contiguous()
        self.classes = [str(c) for c in self.classes]

    def __len__(self) -> int:
        return int(self.x.shape[0])

    @property
    def is_regression(self) -> bool:
        """True when ``y`` holds float regression targets rather than class ids."""
        return self.y.is_floating_point()

    @property
    def target_dim(self) -> int:
        """``D``, the size of one target: 1 for class ids and scalar targets."""
        return 1 if self.y.dim() == 1 else int(self.y.shape[1])

    def subset(self, indices: torch.Tensor) -> ArrayDataset:
        """Return a new dataset holding the samples at ``indices`` (in that order).

        ``groups`` and ``extras`` follow the samples.

        Example:
            >>> import torch
            >>> ds = ArrayDataset(torch.zeros(4, 1, 2, 2, dtype=torch.uint8),
            ...                   torch.tensor([0, 1, 2, 3]), list("abcd"))
            >>> ds.subset(torch.tensor([3, 1])).y.tolist()
            [3, 1]
        """
        return ArrayDataset(
            self.x[indices].contiguous(),
            self.y[indices],
            list(self.classes),
            groups=None if self.groups is None else self.groups[indices],
            extras={k: v[indices] for k, v in self.extras.items()},
        )


@dataclass
class DatasetSplits:
    """A train/test pair (and optional validation split) with the metadata a training run needs.

    Attributes:
        name: Registry name of the dataset.
        train: Training split.
        test: Test split.
        num_classes: Number of classes (0 for regression targets).
        mean: Per-channel mean of ``x / 255`` (default normalization for this dataset).
        std: Per-channel standard deviation of ``x / 255``.
        input_size: ``(C, H, W)`` of one image.
        val: Validation split, when the dataset ships one or one was carved from train.
        target_dim: ``D`` of regression targets (1 for class ids and scalar targets).

    Example:
        >>> import torch
        >>> ds = ArrayDataset(torch.zeros(2, 1, 4, 4, dtype=torch.uint8), torch.tensor([0, 1]),
        ...                   ["a", "b"])
        >>> s = DatasetSplits("toy", ds, ds, 2, (0.5,), (0.25,), (1, 4, 4))
        >>> s.num_classes, s.val is None, s.target_dim
        (2, True, 1)
    """

    name: str
    train: ArrayDataset
    test: ArrayDataset
    num_classes: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    input_size: tuple[int, int, int]
    val: ArrayDataset | None = None
    target_dim: int = 1


def resolve_root(root: str | None) -> Path | None:
    """Where a dataset's files live: ``root`` when given, else ``$SLIMKIT_DATA``, else ``None``.

    ``$SLIMKIT_DATA`` is the directory ``shared/data/materialize.py`` wrote (``cifar10/``,
    ``cifar100/``, ``cew_eyes/`` ...), so recipes and tests need no ``root:`` when it is set.

    Example:
        >>> import os
        >>> str(resolve_root("~/data")) == os.path.expanduser("~/data")
        True
    """
    if root is None:
        root = os.environ.get("SLIMKIT_DATA") or None
    return None if root is None else Path(root).expanduser()


def binary_target(dataset: ArrayDataset, target: str, *, name: str) -> ArrayDataset:
    """Open/closed labels as the recipe's ``target``: class ids or float openness.

    ``target="class"`` keeps the dataset (``y`` 0 closed, 1 open); ``target="openness"`` turns
    ``y`` into float targets 0.0 / 1.0 named ``["openness"]`` for the regression task. Groups and
    extras are kept.

    Args:
        dataset: A dataset whose ``y`` holds 0 (closed) and 1 (open).
        target: ``"class"`` or ``"openness"``.
        name: The dataset's name, for error messages.

    Example:
        >>> import torch
        >>> ds = ArrayDataset(torch.zeros(2, 1, 2, 2, dtype=torch.uint8), torch.tensor([0, 1]),
        ...                   ["closed", "open"])
        >>> binary_target(ds, "openness", name="toy").y.tolist()
        [0.0, 1.0]
    """
    if target == "class":
        return dataset
    if target != "openness":
        raise ValueError(
            f"dataset.target: expected 'class' or 'openness' for dataset {name!r}, got {target!r}"
        )
    return ArrayDataset(
        dataset.x,
        dataset.y.to(torch.float32),
        ["openness"],
        groups=dataset.groups,
        extras=dict(dataset.extras),
    )


def channel_stats(x: torch.Tensor) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and standard deviation of ``x / 255`` for a uint8 ``(N, C, H, W)`` tensor.

    Computed in float64 chunks, so it is exact enough and cheap for 50k CIFAR images.

    Example:
        >>> import torch
        >>> x = torch.full((2, 1, 2, 2), 255, dtype=torch.uint8)
        >>> channel_stats(x)
        ((1.0,), (0.0,))
    """
    c = x.shape[1]
    total = torch.zeros(c, dtype=torch.float64)
    total_sq = torch.zeros(c, dtype=torch.float64)
    count = 0
    for start in range(0, x.shape[0], 8192):
        chunk = x[start : start + 8192].to(torch.float64).div_(255.0)  # (n, C, H, W)
        total += chunk.sum(dim=(0, 2, 3))
        total_sq += chunk.square().sum(dim=(0, 2, 3))
        count += chunk.shape[0] * chunk.shape[2] * chunk.shape[3]
    if count == 0:
        raise ValueError("x: cannot compute mean/std of an empty dataset")
    mean = total / count
    var = (total_sq / count - mean.square()).clamp_min(0.0)
    return tuple(round(float(v), 6) for v in mean), tuple(round(float(v), 6) for v in var.sqrt())


def subset_per_class(dataset: ArrayDataset, k: int, seed: int, *, field: str) -> ArrayDataset:
    """Keep the first ``k`` samples of each class after a seeded shuffle (class-balanced subset).

    Classes with fewer than ``k`` samples keep all of theirs. The kept samples stay in their
    original relative order.

    Args:
        dataset: The dataset to thin out.
        k: Samples per class to keep (>= 1).
        seed: Seed of the shuffle that decides which samples are "first".
        field: Name used in error messages (e.g. ``"subset_per_class"``).

    Example:
        >>> import torch
        >>> ds = ArrayDataset(torch.zeros(6, 1, 2, 2, dtype=torch.uint8),
        ...                   torch.tensor([0, 0, 0, 1, 1, 1]), ["a", "b"])
        >>> subset_per_class(ds, 2, seed=0, field="subset_per_class").y.tolist()
        [0, 0, 1, 1]
    """
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"{field}: expected a positive integer, got {k!r}")
    if not hasattr(dataset, "y"):
        raise ValueError(f"{field}: needs class labels, but this dataset holds boxes or label maps")
    if dataset.is_regression:
        raise ValueError(
            f"{field}: needs class labels, but this dataset has float regression targets"
        )
    gen = torch.Generator().manual_seed(int(seed))
    perm = torch.randperm(len(dataset), generator=gen)
    y_perm = dataset.y[perm]
    # stable sort by label keeps the shuffled order inside each class
    order = torch.sort(y_perm, stable=True).indices
    sorted_labels = y_perm[order]
    counts = torch.bincount(sorted_labels)
    starts = torch.cumsum(counts, 0) - counts  # first position of each class in the sorted list
    rank_in_class = torch.arange(len(order)) - starts[sorted_labels]
    keep = perm[order[rank_in_class < k]]
    return dataset.subset(torch.sort(keep).values)


def make_splits(
    name: str,
    train: ArrayDataset,
    test: ArrayDataset,
    *,
    mean: tuple[float, ...] | None = None,
    std: tuple[float, ...] | None = None,
    num_classes: int | None = None,
    val: ArrayDataset | None = None,
) -> DatasetSplits:
    """Assemble a :class:`DatasetSplits`, checking that the splits agree.

    Missing ``mean``/``std`` are computed from the training images. For class ids,
    ``num_classes`` defaults to ``len(train.classes)`` and every label must lie below it. For
    regression targets (float ``y``), ``num_classes`` is 0 and ``target_dim`` is the target's
    ``D``, the same in every split.

    Example:
        >>> import torch
        >>> ds = ArrayDataset(torch.full((2, 1, 2, 2), 51, dtype=torch.uint8), torch.tensor([0, 1]),
        ...                   ["a", "b"])
        >>> make_splits("toy", ds, ds).mean
        (0.2,)
        >>> reg = ArrayDataset(ds.x, torch.rand(2, 3), ["u", "v", "w"])
        >>> s = make_splits("toy", reg, reg)
        >>> s.num_classes, s.target_dim
        (0, 3)
    """
    named = [("train", train), ("test", test)] + ([("val", val)] if val is not None else [])
    for split, ds in named[1:]:
        if tuple(ds.x.shape[1:]) != tuple(train.x.shape[1:]):
            raise ValueError(
                f"{name}.{split}: image shape {tuple(ds.x.shape[1:])} differs from train "
                f"{tuple(train.x.shape[1:])}"
            )
        if ds.is_regression != train.is_regression or ds.target_dim != train.target_dim:
            raise ValueError(
                f"{name}.{split}.y: targets {ds.y.dtype} {tuple(ds.y.shape[1:])} differ from "
                f"train {train.y.dtype} {tuple(train.y.shape[1:])}"
            )
    if train.is_regression:
        n_cls, target_dim = 0, train.target_dim
    else:
        n_cls, target_dim = (len(train.classes) if num_classes is None else num_classes), 1
        for split, ds in named:
            if len(ds) and (int(ds.y.min()) < 0 or int(ds.y.max()) >= n_cls):
                raise ValueError(
                    f"{name}.{split}.y: labels must lie in 0..{n_cls - 1}, got "
                    f"{int(ds.y.min())}..{int(ds.y.max())}"
                )
    if mean is None or std is None:
        mean, std = channel_stats(train.x)
    c, h, w = (int(s) for s in train.x.shape[1:])
    return DatasetSplits(
        name,
        train,
        test,
        n_cls,
        tuple(mean),
        tuple(std),
        (c, h, w),
        val=val,
        target_dim=target_dim,
    )
