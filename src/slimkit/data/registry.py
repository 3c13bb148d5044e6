"""Dataset registry: recipes name datasets by string; builders return :class:`DatasetSplits`.

The built-in names are declared in :mod:`slimkit.builtins` (the central
:data:`slimkit.registry.DATASETS`); a builder's module is imported when the dataset is loaded, so
:func:`list_datasets` imports nothing heavy.
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from slimkit.registry import DATASETS

if TYPE_CHECKING:
    from slimkit.data.dataset import DatasetSplits

DatasetBuilder = Callable[..., "DatasetSplits"]

_REGISTRY = DATASETS  # the central registry (kept under its old name for callers and tests)


class UnknownDatasetError(ValueError):
    """Raised by :func:`load_dataset` for a name that is not registered."""


def register_dataset(
    name: str, description: str = ""
) -> Callable[[DatasetBuilder], DatasetBuilder]:
    """Register a dataset builder under ``name`` (decorator).

    The builder is called as ``builder(root=..., download=..., **kwargs)`` and returns a
    :class:`DatasetSplits`. Keyword arguments it does not declare are rejected by
    :func:`load_dataset` with a one-line error, unless it takes ``**kwargs``.

    Args:
        name: Registry key, lower case (e.g. ``"cifar10"``).
        description: One line shown by :func:`list_datasets`.

    Returns:
        A decorator that registers the builder and returns it unchanged.

    Example:
        >>> import torch
        >>> from slimkit.data import ArrayDataset, DatasetSplits, load_dataset
        >>> @register_dataset("doc_toy", "two black images")
        ... def _toy(*, root=None, download=False):
        ...     ds = ArrayDataset(torch.zeros(2, 1, 4, 4, dtype=torch.uint8), torch.tensor([0, 1]),
        ...                       ["a", "b"])
        ...     return DatasetSplits("doc_toy", ds, ds, 2, (0.0,), (1.0,), (1, 4, 4))
        >>> len(load_dataset("doc_toy").train)
        2
    """
    key = name.strip().lower()

    def decorator(builder: DatasetBuilder) -> DatasetBuilder:
        try:
            DATASETS.register(key, description=description)(builder)
        except ValueError:
            raise ValueError(f"name: dataset {key!r} is already registered") from None
        return builder

    return decorator


def list_datasets() -> dict[str, str]:
    """Return ``{name: description}`` of every registered dataset, sorted by name.

    Example:
        >>> "digits" in list_datasets()
        True
    """
    return {k: DATASETS.meta(k).get("description", "") for k in DATASETS.names()}


def _check_kwargs(name: str, builder: DatasetBuilder, kwargs: dict[str, Any]) -> None:
    params = inspect.signature(builder).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return
    allowed = sorted(p for p in params if p not in ("root", "download"))
    for key in kwargs:
        if key not in params or key in ("root", "download"):
            close = difflib.get_close_matches(key, allowed, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            options = ", ".join(allowed) if allowed else "none"
            raise ValueError(
                f"dataset.{key}: unknown option for dataset {name!r}{hint}; allowed: {options}"
            )


def load_dataset(
    name: str,
    *,
    root: str | None = None,
    subset_per_class: int | None = None,
    test_subset_per_class: int | None = None,
    seed: int = 0,
    download: bool = False,
    **kwargs: Any,
) -> DatasetSplits:
    """Load a registered dataset as in-memory uint8 tensors.

    Args:
        name: Registered name, see :func:`list_datasets`.
        root: Where the data lives (meaning depends on the dataset; unused by ``digits``).
        subset_per_class: Keep only this many training images per class (seeded choice).
        test_subset_per_class: Likewise for the test split.
        seed: Seed of the subset choice.
        download: Allow torchvision to download (CIFAR without ``root``).
        **kwargs: Dataset-specific options (e.g. ``image_size`` for ``imagefolder``).

    Returns:
        The train/test splits with normalization constants and input size.

    Raises:
        UnknownDatasetError: ``name`` is not registered (the message suggests the closest name).
        ValueError: A missing root, missing file or bad option.

    Example:
        >>> splits = load_dataset("digits", subset_per_class=5)
        >>> len(splits.train), splits.input_size
        (50, (3, 32, 32))
    """
    from slimkit.data.dataset import subset_per_class as _subset_per_class

    key = str(name).strip().lower()
    if key not in DATASETS:
        names = DATASETS.names()
        close = difflib.get_close_matches(key, names, n=1, cutoff=0.5)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise UnknownDatasetError(
            f"dataset.name: unknown dataset {name!r}{hint}; available: {', '.join(names)}"
        )
    builder = DATASETS.get(key)
    _check_kwargs(key, builder, kwargs)
    splits = builder(root=root, download=download, **kwargs)
    if subset_per_class is not None:
        splits.train = _subset_per_class(
            splits.train, subset_per_class, seed, field="subset_per_class"
        )
    if test_subset_per_class is not None:
        splits.test = _subset_per_class(
            splits.test, test_subset_per_class, seed + 1, field="test_subset_per_class"
        )
    return splits
