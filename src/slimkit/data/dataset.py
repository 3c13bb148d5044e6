"""In-memory dataset containers: uint8 image tensors plus integer labels."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class ArrayDataset:
    """A labelled image set held in memory.

    Attributes:
        x: Images, ``uint8`` tensor of shape ``(N, C, H, W)``, contiguous.
        y: Labels, ``int64`` tensor of shape ``(N,)``.
        classes: Class names; ``classes[k]`` names label ``k``.

    Example:
        >>> import torch
        >>> ds = ArrayDataset(torch.zeros(4, 3, 8, 8, dtype=torch.uint8),
        ...                   torch.tensor([0, 1, 0, 1]), ["a", "b"])
        >>> len(ds), ds.x.shape[1:]
        (4, torch.Size([3, 8, 8]))
    """

    x: torch.Tensor
    y: torch.Tensor
    classes: list[str]

    def __post_init__(self) -> None:
        if self.x.dtype != torch.uint8 or self.x.dim() != 4:
            raise ValueError(
                f"x: expected a uint8 tensor of shape (N, C, H, W), got {self.x.dtype} "
                f"{tuple(self.x.shape)}"
            )
        if self.y.dim() != 1 or self.y.shape[0] != self.x.shape[0]:
            raise ValueError(
                f"y: expected shape ({self.x.shape[0]},) to match x, got {tuple(self.y.shape)}"
            )
        if self.y.dtype != torch.int64:
            self.y = self.y.to(torch.int64)
        if not self.x.is_contiguous():
            self.x = self.x.contiguous()
        self.classes = [str(c) for c in self.classes]

    def __len__(self) -> int:
        return int(self.x.shape[0])

    def subset(self, indices: torch.Tensor) -> ArrayDataset:
        """Return a new dataset holding the samples at ``indices`` (in that order).

        Example:
            >>> import torch
            >>> ds = ArrayDataset(torch.zeros(4, 1, 2, 2, dtype=torch.uint8),
            ...                   torch.tensor([0, 1, 2, 3]), list("abcd"))
            >>> ds.subset(torch.tensor([3, 1])).y.tolist()
            [3, 1]
        """
        return ArrayDataset(self.x[indices].contiguous(), self.y[indices], list(self.classes))


@dataclass
class DatasetSplits:
    """A train/test pair with the metadata a training run needs.

    Attributes:
        name: Registry name of the dataset.
        train: Training split.
        test: Test split.
        num_classes: Number of classes.
        mean: Per-channel mean of ``x / 255`` (default normalization for this dataset).
        std: Per-channel standard deviation of ``x / 255``.
        input_size: ``(C, H, W)`` of one image.

    Example:
        >>> import torch
        >>> ds = ArrayDataset(torch.zeros(2, 1, 4, 4, dtype=torch.uint8), torch.tensor([0, 1]),
        ...                   ["a", "b"])
        >>> DatasetSplits("toy", ds, ds, 2, (0.5,), (0.25,), (1, 4, 4)).num_classes
        2
    """

    name: str
    train: ArrayDataset
    test: ArrayDataset
    num_classes: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    input_size: tuple[int, int, int]


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
) -> DatasetSplits:
    """Assemble a :class:`DatasetSplits`, checking that both splits agree.

    Missing ``mean``/``std`` are computed from the training images; ``num_classes`` defaults to
    ``len(train.classes)``.

    Example:
        >>> import torch
        >>> ds = ArrayDataset(torch.full((2, 1, 2, 2), 51, dtype=torch.uint8), torch.tensor([0, 1]),
        ...                   ["a", "b"])
        >>> make_splits("toy", ds, ds).mean
        (0.2,)
    """
    if tuple(train.x.shape[1:]) != tuple(test.x.shape[1:]):
        raise ValueError(
            f"{name}.test: image shape {tuple(test.x.shape[1:])} differs from train "
            f"{tuple(train.x.shape[1:])}"
        )
    n_cls = len(train.classes) if num_classes is None else num_classes
    for split, ds in (("train", train), ("test", test)):
        if len(ds) and (int(ds.y.min()) < 0 or int(ds.y.max()) >= n_cls):
            raise ValueError(
                f"{name}.{split}.y: labels must lie in 0..{n_cls - 1}, got "
                f"{int(ds.y.min())}..{int(ds.y.max())}"
            )
    if mean is None or std is None:
        mean, std = channel_stats(train.x)
    c, h, w = (int(s) for s in train.x.shape[1:])
    return DatasetSplits(name, train, test, n_cls, tuple(mean), tuple(std), (c, h, w))
