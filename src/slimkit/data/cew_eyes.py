"""``cew_eyes``: CEW open/closed eye patches (24x24 grayscale) from the shared data folder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from slimkit.data.arrays import load_npz_split, to_nchw
from slimkit.data.dataset import ArrayDataset, DatasetSplits, make_splits
from slimkit.data.registry import register_dataset


@register_dataset("cew_eyes", "CEW eye patches, 24x24 gray, 0=closed 1=open; root= required")
def load_cew_eyes(*, root: str | None = None, download: bool = False) -> DatasetSplits:
    """Load the CEW eye patches (3888 train / 958 test, 1x24x24, labels 0 closed, 1 open).

    ``root`` may be the output directory of ``shared/data/materialize.py`` (``root/cew_eyes/``),
    that ``cew_eyes/`` directory itself, or the source folder holding ``cew_eyes.npz``. Mean/std
    come from the train split.

    Example:
        >>> import os
        >>> root = os.environ.get("SLIMKIT_DATA")
        >>> ok = root and os.path.isdir(os.path.join(root, "cew_eyes"))
        >>> s = load_cew_eyes(root=root) if ok else None
        >>> s is None or s.input_size == (1, 24, 24)
        True
    """
    if root is None:
        raise ValueError("root: dataset 'cew_eyes' needs root= (output of materialize.py)")
    path = Path(root).expanduser()
    for d in (path / "cew_eyes", path):
        if (d / "train.npz").is_file() and (d / "test.npz").is_file():
            splits = [load_npz_split(d / f"{s}.npz", x_keys=("x",)) for s in ("train", "test")]
            classes = splits[0][2] or ["closed", "open"]
            train, test = (ArrayDataset(x, y, classes) for x, y, _ in splits)
            return make_splits("cew_eyes", train, test)
        if (d / "cew_eyes.npz").is_file():
            with np.load(d / "cew_eyes.npz", allow_pickle=False) as z:
                train, test = (
                    ArrayDataset(
                        to_nchw(z[f"x_{s}"], field=f"x_{s}", path=d / "cew_eyes.npz"),
                        torch.from_numpy(z[f"y_{s}"].astype(np.int64)),
                        ["closed", "open"],
                    )
                    for s in ("train", "test")
                )
            return make_splits("cew_eyes", train, test)
    raise ValueError(
        f"root: no cew_eyes data (train.npz/test.npz or cew_eyes.npz) in {str(path)!r}"
    )
