"""Datasets held in memory as uint8 tensors, and a fast batched augmenting loader.

Names are re-exported lazily: ``import slimkit.data.config`` imports no torch. The built-in
datasets are declared in :mod:`slimkit.builtins`.

Example:
    >>> from slimkit.data import Augment, BatchLoader, load_dataset
    >>> s = load_dataset("digits", subset_per_class=10)
    >>> loader = BatchLoader(s.train, 32, shuffle=True, augment=Augment(), mean=s.mean, std=s.std)
    >>> [tuple(x.shape) for x, _ in loader][-1]
    (4, 3, 32, 32)
"""

from slimkit._lazy import lazy_exports

_EXPORTS = {
    "Augment": "slimkit.data.config",
    "AugmentConfig": "slimkit.data.config",
    "DataConfig": "slimkit.data.config",
    "crop_flip": "slimkit.data.augment",
    "normalize": "slimkit.data.augment",
    "ArrayDataset": "slimkit.data.dataset",
    "DatasetSplits": "slimkit.data.dataset",
    "channel_stats": "slimkit.data.dataset",
    "BatchLoader": "slimkit.data.loader",
    "make_loader": "slimkit.data.loader",
    "shard_spans": "slimkit.data.loader",
    "carve_val": "slimkit.data.split",
    "UnknownDatasetError": "slimkit.data.registry",
    "list_datasets": "slimkit.data.registry",
    "load_dataset": "slimkit.data.registry",
    "register_dataset": "slimkit.data.registry",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
