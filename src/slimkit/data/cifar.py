"""``cifar10`` / ``cifar100``: local npz files (plain or materialized) or torchvision's download.

Both datasets share one reader: ``root`` (or ``$SLIMKIT_DATA``) holding ``NAME/train.npz`` and
``NAME/test.npz`` as written by ``shared/data/materialize.py``, the same files directly in
``root``, or the encoded source folder; otherwise torchvision's cache.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from slimkit.data.arrays import load_npz_split, to_nchw
from slimkit.data.dataset import ArrayDataset, DatasetSplits, make_splits, resolve_root
from slimkit.data.npz_file import open_npz

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


def _coarse(files: list[Path]) -> tuple[torch.Tensor | None, list[str] | None]:
    """CIFAR-100's superclass labels ``y_coarse`` (and their names), when every file has them."""
    labels, names = [], None
    for f in files:
        with open_npz(f) as z:
            if "y_coarse" not in z.files:
                return None, None
            labels.append(torch.from_numpy(z["y_coarse"].astype(np.int64)))
            if names is None and "coarse_classes" in z.files:
                names = [str(c) for c in z["coarse_classes"].tolist()]
    return torch.cat(labels), names


def _from_root(
    name: str, path: Path, n_classes: int, labels: str = "fine"
) -> tuple[ArrayDataset, ArrayDataset]:
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
        extras: dict[str, torch.Tensor] = {}
        if name == "cifar100":
            y_coarse, coarse_names = _coarse(files)
            if y_coarse is None:
                if labels == "coarse":
                    raise ValueError(
                        f"labels: 'coarse' needs y_coarse in {str(files[0])!r}, which lacks it"
                    )
            elif labels == "coarse":
                extras["y_fine"] = y
                y, classes = y_coarse, coarse_names or [str(i) for i in range(20)]
            else:
                extras["y_coarse"] = y_coarse
        splits.append(ArrayDataset(x, y, classes, extras=extras))
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
                "train.npz/test.npz), set $SLIMKIT_DATA, or set download: true"
            ) from None
        x = to_nchw(np.asarray(tv.data), field="data", path=cache)
        y = torch.as_tensor(np.asarray(tv.targets, dtype=np.int64))
        out.append(ArrayDataset(x, y, list(tv.classes)))
    return out[0], out[1]


def _build(name: str, root: str | None, download: bool, labels: str = "fine") -> DatasetSplits:
    """CIFAR-10 or CIFAR-100 from ``root``, else ``$SLIMKIT_DATA``, else torchvision's cache."""
    if labels not in ("fine", "coarse"):
        raise ValueError(f"labels: expected 'fine' or 'coarse', got {labels!r}")
    n_classes = 10 if name == "cifar10" else 100
    path = resolve_root(root)
    if root is None and path is not None and _find_files(name, path) is None:
        path = None  # $SLIMKIT_DATA without this dataset: fall back to torchvision's copy
    if path is not None:
        train, test = _from_root(name, path, n_classes, labels)
    else:
        if labels == "coarse":
            raise ValueError(
                "labels: 'coarse' needs the npz files (root= or $SLIMKIT_DATA); torchvision's "
                "CIFAR-100 keeps only the fine labels"
            )
        train, test = _from_torchvision(name, download)
    if labels == "coarse":
        n_classes = 20
    mean, std = (CIFAR10_MEAN, CIFAR10_STD) if name == "cifar10" else (CIFAR100_MEAN, CIFAR100_STD)
    return make_splits(name, train, test, mean=mean, std=std, num_classes=n_classes)


def load_cifar10(*, root: str | None = None, download: bool = False) -> DatasetSplits:
    """Load CIFAR-10.

    ``root`` may be a directory holding ``train.npz``/``test.npz`` (``x`` uint8 NHWC, ``y``), the
    output directory of ``shared/data/materialize.py`` (files in ``root/cifar10/``), or the encoded
    source folder (``train_0.npz``, ``train_1.npz``, ``test.npz`` with ``x_enc``). Without ``root``,
    ``$SLIMKIT_DATA`` is used when it holds CIFAR-10, else torchvision's copy in
    ``~/.cache/slimkit/cifar10`` (downloaded only if ``download``).

    Example:
        >>> import os
        >>> root = os.environ.get("SLIMKIT_DATA")
        >>> s = load_cifar10(root=root) if root else None
        >>> s is None or (len(s.train), len(s.test)) == (50000, 10000)
        True
    """
    return _build("cifar10", root, download)


def load_cifar100(
    *, root: str | None = None, download: bool = False, labels: str = "fine"
) -> DatasetSplits:
    """Load CIFAR-100: 100 fine labels (or the 20 superclasses with ``labels="coarse"``).

    ``root`` is as for :func:`load_cifar10`: the materialized ``ROOT/cifar100/{train,test}.npz``
    (``x``, ``y`` fine, ``y_coarse``, ``classes``, ``coarse_classes``), a directory holding those
    files, or the encoded source folder; without ``root``, ``$SLIMKIT_DATA`` then torchvision.
    ``classes`` are the fine class names and every split keeps ``extras["y_coarse"]`` (with
    ``labels="coarse"``: ``y`` is the superclass, ``classes`` its names and ``extras["y_fine"]``
    the fine label). The shared data folder does not hold CIFAR-100 yet; ``materialize.py``
    writes it once it does.

    Example:
        >>> import os
        >>> root = os.environ.get("SLIMKIT_DATA")
        >>> ok = root and os.path.isdir(os.path.join(root, "cifar100"))
        >>> s = load_cifar100(root=root) if ok else None
        >>> s is None or (s.num_classes, s.train.extras["y_coarse"].max().item()) == (100, 19)
        True
    """
    return _build("cifar100", root, download, labels)
