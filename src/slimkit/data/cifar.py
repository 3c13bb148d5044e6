"""``cifar10`` / ``cifar100``: local npz files (plain or materialized) or torchvision's download."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from slimkit.data.arrays import load_npz_split, to_nchw
from slimkit.data.dataset import ArrayDataset, DatasetSplits, make_splits
from slimkit.data.registry import register_dataset

# canonical per-channel statistics of x/255 on the training split
CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2023, 0.1994, 0.2010)
CIFAR100_MEAN = (0.5071, 0.4865, 0.4409)
CIFAR100_STD = (0.2673, 0.2564, 0.2762)

_DEFAULT_CACHE = Path("~/.cache/slimkit").expanduser()


def _find_files(name: str, root: Path) -> tuple[list[Path], list[Path]] | None:
    """Locate (train files, test files) under ``root`` or ``root/name``; None if absent.

    Two layouts are recognised in each candidate directory:
    ``train.npz`` + ``test.npz`` (plain pixels ``x``, or what ``materialize.py`` writes), and
    ``train_0.npz`` + ``train_1.npz`` + ``test.npz`` (the encoded ``x_enc`` source files).
    """
    for d in (root / name, root):
        if (d / "train.npz").is_file() and (d / "test.npz").is_file():
            return [d / "train.npz"], [d / "test.npz"]
        parts = sorted(d.glob("train_[0-9]*.npz"))
        if parts and (d / "test.npz").is_file():
            return parts, [d / "test.npz"]
    return None


def _load_files(
    files: list[Path], y_keys: tuple[str, ...]
) -> tuple[torch.Tensor, torch.Tensor, list[str] | None]:
    loaded = [
        load_npz_split(f, y_keys=y_keys, class_keys=("classes", "fine_classes")) for f in files
    ]
    if len(loaded) == 1:
        return loaded[0]
    x = torch.cat([t[0] for t in loaded])
    y = torch.cat([t[1] for t in loaded])
    return x, y, loaded[0][2]


def _from_root(name: str, root: str, n_classes: int) -> tuple[ArrayDataset, ArrayDataset]:
    path = Path(root).expanduser()
    if not path.is_dir():
        raise ValueError(f"root: {str(path)!r} is not a directory (dataset {name!r})")
    found = _find_files(name, path)
    if found is None:
        raise ValueError(
            f"root: no {name} data in {str(path)!r}; expected train.npz and test.npz there or in "
            f"{name}/ (e.g. the output of shared/data/materialize.py)"
        )
    # the materialized CIFAR-100 stores fine labels as 'y'; the encoded source as 'y_fine'
    y_keys = ("y",) if name == "cifar10" else ("y_fine", "y")
    splits = []
    for files in found:
        x, y, classes = _load_files(files, y_keys)
        if x.shape[1:] != (3, 32, 32):
            raise ValueError(
                f"root: {name} images in {str(files[0])!r} have shape {tuple(x.shape[1:])}, "
                "expected 3x32x32"
            )
        if classes is not None and len(classes) != n_classes:
            raise ValueError(
                f"root: {str(files[0])!r} holds {len(classes)} classes, {name} has {n_classes}"
            )
        classes = classes or [str(i) for i in range(n_classes)]
        splits.append(ArrayDataset(x, y, classes))
    return splits[0], splits[1]


def _from_torchvision(name: str, download: bool) -> tuple[ArrayDataset, ArrayDataset]:
    import torchvision

    cls = torchvision.datasets.CIFAR10 if name == "cifar10" else torchvision.datasets.CIFAR100
    cache = _DEFAULT_CACHE / name
    out = []
    for train in (True, False):
        try:
            tv = cls(root=str(cache), train=train, download=download)
        except RuntimeError:
            raise ValueError(
                f"root: {name} not found in {str(cache)!r}; pass root= (a directory with "
                "train.npz/test.npz) or set download: true"
            ) from None
        x = to_nchw(np.asarray(tv.data), field="data", path=cache)
        y = torch.as_tensor(np.asarray(tv.targets, dtype=np.int64))
        out.append(ArrayDataset(x, y, list(tv.classes)))
    return out[0], out[1]


def _build(name: str, root: str | None, download: bool) -> DatasetSplits:
    n_classes = 10 if name == "cifar10" else 100
    if root is not None:
        train, test = _from_root(name, root, n_classes)
    else:
        train, test = _from_torchvision(name, download)
    mean, std = (CIFAR10_MEAN, CIFAR10_STD) if name == "cifar10" else (CIFAR100_MEAN, CIFAR100_STD)
    return make_splits(name, train, test, mean=mean, std=std, num_classes=n_classes)


@register_dataset("cifar10", "CIFAR-10 (50000 train / 10000 test, 32x32 RGB); root= or download")
def load_cifar10(*, root: str | None = None, download: bool = False) -> DatasetSplits:
    """Load CIFAR-10.

    ``root`` may be a directory holding ``train.npz``/``test.npz`` (``x`` uint8 NHWC, ``y``), the
    output directory of ``shared/data/materialize.py`` (files in ``root/cifar10/``), or the encoded
    source folder (``train_0.npz``, ``train_1.npz``, ``test.npz`` with ``x_enc``). Without ``root``,
    torchvision's copy in ``~/.cache/slimkit/cifar10`` is used (downloaded only if ``download``).

    Example:
        >>> import os
        >>> root = os.environ.get("SLIMKIT_DATA")
        >>> s = load_cifar10(root=root) if root else None
        >>> s is None or (len(s.train), len(s.test)) == (50000, 10000)
        True
    """
    return _build("cifar10", root, download)


@register_dataset("cifar100", "CIFAR-100 fine labels (50000 train / 10000 test); root= or download")
def load_cifar100(*, root: str | None = None, download: bool = False) -> DatasetSplits:
    """Load CIFAR-100 with its 100 fine labels. ``root`` is as for :func:`load_cifar10`.

    Example:
        >>> import os
        >>> root = os.environ.get("SLIMKIT_DATA")
        >>> ok = root and os.path.isdir(os.path.join(root, "cifar100"))
        >>> s = load_cifar100(root=root) if ok else None
        >>> s is None or s.num_classes == 100
        True
    """
    return _build("cifar100", root, download)
