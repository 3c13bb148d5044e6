"""BatchLoader: shuffled, sharded, augmented and normalized batches straight from uint8 tensors."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import torch

from slimkit.data.augment import Augment, crop_flip, normalize
from slimkit.data.dataset import ArrayDataset

EPOCH_SEED_STRIDE = 1_000_003


def epoch_generator(seed: int, epoch: int) -> torch.Generator:
    """The CPU generator that holds all randomness of one epoch: ``seed * 1_000_003 + epoch``.

    Example:
        >>> g1, g2 = epoch_generator(1, 2), epoch_generator(1, 2)
        >>> torch.equal(torch.randperm(5, generator=g1), torch.randperm(5, generator=g2))
        True
    """
    return torch.Generator().manual_seed(int(seed) * EPOCH_SEED_STRIDE + int(epoch))


def shard_spans(
    n: int, batch_size: int, rank: int, world_size: int, drop_last: bool
) -> list[tuple[int, int]]:
    """Positions ``[start, end)`` into the epoch's permutation that ``rank`` reads, one per step.

    The global batch is ``batch_size * world_size``. Step ``s`` covers the global chunk
    ``perm[s*GB:(s+1)*GB]`` and rank ``r`` takes ``chunk[r*batch_size:(r+1)*batch_size]``, so
    ``world_size`` ranks with batch ``B`` see exactly the samples of one rank with batch
    ``world_size * B``. The last, partial chunk (``rem = n % GB`` samples) is:

    - dropped when ``drop_last``;
    - otherwise split into contiguous, near-equal parts (the first ``rem % world_size`` ranks get
      one sample more), unless ``rem < world_size``: then some rank would get an empty batch, so
      every rank skips that chunk (those ``rem`` samples are not seen in this epoch; a different
      permutation next epoch leaves out other ones).

    Every rank therefore gets the same number of steps.

    Example:
        >>> shard_spans(10, 3, rank=1, world_size=2, drop_last=False)
        [(3, 6), (8, 10)]
        >>> shard_spans(7, 3, rank=1, world_size=2, drop_last=False)
        [(3, 6)]
    """
    gb = batch_size * world_size
    full, rem = divmod(n, gb)
    spans = [(s * gb + rank * batch_size, s * gb + (rank + 1) * batch_size) for s in range(full)]
    if rem and not drop_last and rem >= world_size:
        base, extra = divmod(rem, world_size)
        start = full * gb + rank * base + min(rank, extra)
        spans.append((start, start + base + (1 if rank < extra else 0)))
    return spans


def check_batching(batch_size: int, rank: int, world_size: int) -> None:
    """One-line errors for a batch size, rank or world size that no loader can use.

    Example:
        >>> try:
        ...     check_batching(0, 0, 1)
        ... except ValueError as e:
        ...     print(e)
        batch_size: expected a positive integer, got 0
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size: expected a positive integer, got {batch_size!r}")
    if isinstance(world_size, bool) or not isinstance(world_size, int) or world_size < 1:
        raise ValueError(f"world_size: expected a positive integer, got {world_size!r}")
    if not isinstance(rank, int) or not 0 <= rank < world_size:
        raise ValueError(f"rank: expected an integer in 0..{world_size - 1}, got {rank!r}")


def check_epoch(epoch: int) -> None:
    """One-line error for an epoch index that is not an integer >= 0."""
    if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
        raise ValueError(f"epoch: expected an integer >= 0, got {epoch!r}")


class ShardedLoader:
    """What every slimkit loader shares: arguments, this rank's spans and the epoch's permutation.

    Subclasses draw their augmentation from the generator :meth:`_permutation` returns, after
    the permutation, so a sample is augmented identically whatever rank or batch it lands in.
    """

    def __init__(
        self,
        dataset: Any,
        batch_size: int,
        *,
        shuffle: bool,
        mean: Sequence[float],
        std: Sequence[float],
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
        drop_last: bool = False,
        channels_last: bool = True,
        device: str | torch.device = "cpu",
    ) -> None:
        check_batching(batch_size, rank, world_size)
        if any(float(s) <= 0 for s in std):
            raise ValueError(f"std: every value must be > 0, got {list(std)}")
        self.dataset = dataset
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.mean = tuple(float(m) for m in mean)
        self.std = tuple(float(s) for s in std)
        self.seed = int(seed)
        self.rank = rank
        self.world_size = world_size
        self.drop_last = drop_last
        self.channels_last = channels_last
        self.device = torch.device(device)
        self.epoch = 0
        self._spans = shard_spans(len(dataset), batch_size, rank, world_size, drop_last)

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose permutation and augmentation the next iteration uses."""
        check_epoch(epoch)
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self._spans)

    def _permutation(self) -> tuple[torch.Generator, torch.Tensor]:
        """The epoch's generator and sample order ``(N,)`` (identity when not shuffling)."""
        n = len(self.dataset)
        gen = epoch_generator(self.seed, self.epoch)
        perm = torch.randperm(n, generator=gen) if self.shuffle else torch.arange(n)
        return gen, perm


class BatchLoader(ShardedLoader):
    """Iterate over an in-memory :class:`ArrayDataset` in augmented, normalized batches.

    All randomness of epoch ``e`` comes from one CPU generator seeded with
    ``seed * 1_000_003 + e`` (the global torch RNG is never used). At the start of each iteration
    it draws, in this order: the permutation (if ``shuffle``), per-sample crop offsets (if
    cropping) and per-sample flip decisions (if flipping), for the whole dataset and indexed by
    sample index. A sample is therefore augmented identically whatever rank or batch it lands in,
    and a run resumed at epoch ``e`` sees exactly the same batches. See :func:`shard_spans` for
    how ranks split each global batch.

    Args:
        dataset: The images and labels.
        batch_size: Per-rank batch size.
        shuffle: Permute the samples each epoch.
        augment: Crop/flip settings, or None for none (evaluation).
        mean: Per-channel mean of ``x / 255``.
        std: Per-channel standard deviation of ``x / 255``.
        seed: Base seed.
        rank: This process's rank, ``0 <= rank < world_size``.
        world_size: Number of data-parallel processes.
        drop_last: Drop the last incomplete global batch.
        channels_last: Yield ``x`` in ``torch.channels_last`` memory format.
        device: Where batches are produced; the dataset is copied there once.

    Example:
        >>> from slimkit.data import load_dataset
        >>> s = load_dataset("digits")
        >>> loader = BatchLoader(s.train, 128, shuffle=True, augment=Augment(), mean=s.mean,
        ...                      std=s.std)
        >>> x, y = next(iter(loader))
        >>> x.shape, x.dtype, y.dtype, len(loader)
        (torch.Size([128, 3, 32, 32]), torch.float32, torch.int64, 11)
    """

    def __init__(
        self,
        dataset: ArrayDataset,
        batch_size: int,
        *,
        shuffle: bool,
        augment: Augment | None,
        mean: Sequence[float],
        std: Sequence[float],
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
        drop_last: bool = False,
        channels_last: bool = True,
        device: str | torch.device = "cpu",
    ) -> None:
        c = dataset.x.shape[1]
        for field, vals in (("mean", mean), ("std", std)):
            if len(vals) not in (1, c):
                raise ValueError(
                    f"{field}: expected {c} values (one per channel), got {list(vals)}"
                )
        super().__init__(
            dataset,
            batch_size,
            shuffle=shuffle,
            mean=mean,
            std=std,
            seed=seed,
            rank=rank,
            world_size=world_size,
            drop_last=drop_last,
            channels_last=channels_last,
            device=device,
        )
        self.augment = augment if augment is not None and augment.active else None
        self._x = dataset.x.to(self.device)
        self._y = dataset.y.to(self.device)

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose permutation and augmentation the next iteration uses.

        Example:
            >>> import torch
            >>> from slimkit.data import ArrayDataset
            >>> ds = ArrayDataset(torch.zeros(4, 1, 2, 2, dtype=torch.uint8), torch.arange(4), list("abcd"))
            >>> loader = BatchLoader(ds, 2, shuffle=True, augment=None, mean=[0], std=[1])
            >>> loader.set_epoch(3); loader.epoch
            3
        """
        super().set_epoch(epoch)

    def _draw(self) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        """Permutation, crop offsets ``(N, 2)`` and flips ``(N,)`` of the current epoch."""
        n = len(self.dataset)
        gen, perm = self._permutation()
        offsets = flips = None
        if self.augment is not None:
            p = self.augment.crop_padding
            if p > 0:
                offsets = torch.randint(0, 2 * p + 1, (n, 2), generator=gen)
            if self.augment.hflip:
                flips = torch.randint(0, 2, (n,), generator=gen).bool()
        to = self.device
        return (
            perm.to(to),
            None if offsets is None else offsets.to(to),
            None if flips is None else flips.to(to),
        )

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        perm, offsets, flips = self._draw()
        padding = self.augment.crop_padding if self.augment is not None else 0
        for start, end in self._spans:
            idx = perm[start:end]
            xb = self._x.index_select(0, idx)  # (b, C, H, W) uint8; faster than x[idx]
            if self.augment is not None:
                xb = crop_flip(
                    xb,
                    None if offsets is None else offsets[idx],
                    None if flips is None else flips[idx],
                    padding,
                )
            x = normalize(xb, self.mean, self.std, channels_last=self.channels_last)
            yield x, self._y.index_select(0, idx)


def make_loader(dataset: Any, batch_size: int, **options: Any) -> Any:
    """Batches of any split: the dataset's own ``loader(...)`` when it has one (detection and
    segmentation sets collate boxes and masks), else a :class:`BatchLoader`.

    Example:
        >>> import torch
        >>> from slimkit.data import ArrayDataset
        >>> ds = ArrayDataset(torch.zeros(4, 1, 2, 2, dtype=torch.uint8), torch.arange(4), list("abcd"))
        >>> len(make_loader(ds, 2, shuffle=False, augment=None, mean=[0], std=[1]))
        2
    """
    own = getattr(dataset, "loader", None)
    if callable(own):
        return own(batch_size, **options)
    return BatchLoader(dataset, batch_size, **options)
