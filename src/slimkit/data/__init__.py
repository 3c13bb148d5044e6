"""Datasets held in memory as uint8 tensors, and a fast batched augmenting loader.

Example:
    >>> from slimkit.data import Augment, BatchLoader, load_dataset
    >>> s = load_dataset("digits", subset_per_class=10)
    >>> loader = BatchLoader(s.train, 32, shuffle=True, augment=Augment(), mean=s.mean, std=s.std)
    >>> [tuple(x.shape) for x, _ in loader][-1]
    (4, 3, 32, 32)
"""

from slimkit.data import cew_eyes, cifar, digits, imagefolder, npz  # noqa: F401  (registration)
from slimkit.data.augment import Augment, crop_flip, normalize
from slimkit.data.dataset import ArrayDataset, DatasetSplits, channel_stats
from slimkit.data.loader import BatchLoader, shard_spans
from slimkit.data.registry import (
    UnknownDatasetError,
    list_datasets,
    load_dataset,
    register_dataset,
)

__all__ = [
    "ArrayDataset",
    "Augment",
    "BatchLoader",
    "DatasetSplits",
    "UnknownDatasetError",
    "channel_stats",
    "crop_flip",
    "list_datasets",
    "load_dataset",
    "normalize",
    "register_dataset",
    "shard_spans",
]
