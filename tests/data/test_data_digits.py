"""The embedded ``digits`` dataset and the class-balanced subsets."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.datasets import load_digits

from slimkit.data import ArrayDataset, DatasetSplits, channel_stats, load_dataset


def test_digits_shapes_sizes_and_classes() -> None:
    s = load_dataset("digits")
    assert isinstance(s, DatasetSplits) and isinstance(s.train, ArrayDataset)
    assert (len(s.train), len(s.test)) == (1347, 450)
    assert s.train.x.shape == (1347, 3, 32, 32) and s.test.x.shape == (450, 3, 32, 32)
    assert s.train.x.dtype == torch.uint8 and s.train.y.dtype == torch.int64
    assert s.train.x.is_contiguous() and s.test.x.is_contiguous()
    assert s.num_classes == 10 and s.train.classes == [str(i) for i in range(10)]
    assert s.input_size == (3, 32, 32)
    # three identical channels, full 0..255 range
    assert torch.equal(s.train.x[:, 0], s.train.x[:, 1]) and torch.equal(
        s.train.x[:, 0], s.train.x[:, 2]
    )
    assert int(s.train.x.max()) == 255 and int(s.train.x.min()) == 0


def test_digits_split_is_stratified_and_disjoint() -> None:
    s = load_dataset("digits")
    total = torch.bincount(torch.cat([s.train.y, s.test.y]), minlength=10)
    test_counts = torch.bincount(s.test.y, minlength=10)
    assert int(total.sum()) == 1797
    assert torch.all((test_counts.double() - 0.25 * total.double()).abs() <= 1.0)
    # no image is in both splits (digits has a few duplicates, so compare label+pixels counts)
    assert len(s.train) + len(s.test) == 1797


def test_digits_pixels_follow_the_sklearn_images() -> None:
    s = load_dataset("digits")
    # every 32x32 image, average-pooled back to 8x8, is a slightly blurred 255/16 * source image:
    # its nearest source image (L2) carries the same label and the same total intensity
    images = load_digits()
    src = torch.from_numpy(images.images.astype(np.float32) * (255.0 / 16.0))  # (1797, 8, 8)
    x = torch.cat([s.train.x, s.test.x])
    y = torch.cat([s.train.y, s.test.y])
    pooled = F.avg_pool2d(x[:, :1].float(), 4)[:, 0]  # (1797, 8, 8)
    nearest = torch.cdist(pooled.flatten(1), src.flatten(1)).argmin(dim=1)
    assert torch.equal(torch.from_numpy(images.target)[nearest], y)
    assert len(torch.unique(nearest)) >= 1790  # digits holds a few exact duplicates
    mass = x[:, 0].double().sum(dim=(1, 2)) / 16 / src[nearest].double().sum(dim=(1, 2))
    assert float(mass.min()) > 0.95 and float(mass.max()) < 1.08


def test_digits_deterministic_and_stats() -> None:
    a, b = load_dataset("digits"), load_dataset("digits")
    assert torch.equal(a.train.x, b.train.x) and torch.equal(a.test.y, b.test.y)
    xf = a.train.x.double() / 255
    mean = xf.mean(dim=(0, 2, 3))
    std = xf.std(dim=(0, 2, 3), unbiased=False)
    assert np.allclose(a.mean, mean.numpy(), atol=1e-5) and np.allclose(
        a.std, std.numpy(), atol=1e-5
    )
    assert channel_stats(a.train.x) == (a.mean, a.std)


def test_subset_per_class_is_balanced_seeded_and_a_subset() -> None:
    full = load_dataset("digits")
    s = load_dataset("digits", subset_per_class=7, test_subset_per_class=3, seed=5)
    assert torch.equal(torch.bincount(s.train.y), torch.full((10,), 7))
    assert torch.equal(torch.bincount(s.test.y), torch.full((10,), 3))
    again = load_dataset("digits", subset_per_class=7, test_subset_per_class=3, seed=5)
    assert torch.equal(s.train.x, again.train.x)
    other = load_dataset("digits", subset_per_class=7, seed=6)
    assert not torch.equal(s.train.x, other.train.x)
    assert len(other.test) == 450  # test untouched without test_subset_per_class
    # each kept image exists in the full training split with the same label
    flat = full.train.x.flatten(1).long()
    for img, label in zip(s.train.x[:10], s.train.y[:10], strict=True):
        hits = (flat == img.flatten().long()).all(dim=1).nonzero().flatten()
        assert len(hits) >= 1 and label in full.train.y[hits]
    # stats stay the dataset's defaults
    assert s.mean == full.mean


def test_subset_larger_than_a_class_keeps_all() -> None:
    s = load_dataset("digits", subset_per_class=10_000)
    assert len(s.train) == 1347
