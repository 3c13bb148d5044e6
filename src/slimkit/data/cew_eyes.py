"""``cew_eyes``: CEW open/closed eye patches (24x24 grayscale) from the shared data folder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from slimkit.data.arrays import load_npz_split, to_nchw
from slimkit.data.dataset import (
    ArrayDataset,
    DatasetSplits,
    binary_target,
    make_splits,
    resolve_root,
)
from slimkit.data.npz_file import open_npz

CLASSES = ["closed", "open"]
GROUP_KEYS = ("group", "subject", "groups")  # optional per-sample group ids in train/test.npz


def _optional_groups(path: Path, n: int) -> torch.Tensor | None:
    """Integer group ids stored next to ``x`` in a ``train.npz``/``test.npz``, if any."""
    with open_npz(path) as z:
        key = next((k for k in GROUP_KEYS if k in z.files), None)
        if key is None:
            return None
        g = z[key]
    if not np.issubdtype(g.dtype, np.integer) or g.shape != (n,):
        raise ValueError(
            f"{key}: expected {n} integer group ids in {str(path)!r}, got {g.dtype} {g.shape}"
        )
    return torch.from_numpy(g.astype(np.int64))


def _from_source(path: Path) -> tuple[ArrayDataset, ArrayDataset]:
    """The source ``cew_eyes.npz``: its string groups (photo or person) become integer ids."""
    with open_npz(path) as z:
        names = {s: z[f"group_{s}"] for s in ("train", "test") if f"group_{s}" in z.files}
        # one id per distinct group name across both splits: (n_train + n_test,) -> ids
        ids = None
        if len(names) == 2:
            _, inverse = np.unique(
                np.concatenate([names["train"], names["test"]]), return_inverse=True
            )
            ids = {"train": inverse[: len(names["train"])], "test": inverse[len(names["train"]) :]}
        return tuple(  # type: ignore[return-value]
            ArrayDataset(
                to_nchw(z[f"x_{s}"], field=f"x_{s}", path=path),
                torch.from_numpy(z[f"y_{s}"].astype(np.int64)),
                CLASSES,
                groups=None if ids is None else torch.from_numpy(ids[s].astype(np.int64)),
            )
            for s in ("train", "test")
        )


def load_cew_eyes(
    *, root: str | None = None, download: bool = False, target: str = "class"
) -> DatasetSplits:
    """Load the CEW eye patches (3888 train / 958 test, 1x24x24, labels 0 closed, 1 open).

    ``root`` (default ``$SLIMKIT_DATA``) may be the output directory of
    ``shared/data/materialize.py`` (``root/cew_eyes/``), that ``cew_eyes/`` directory itself, or
    the source folder holding ``cew_eyes.npz``. The source file also gives each patch its group
    (the photo for closed eyes, the person for open ones: both eyes of a face share it) as
    ``groups``, so a validation split keeps a face on one side; the materialized files carry no
    groups unless they hold a ``group``/``subject`` key. Mean/std come from the train split.

    Args:
        root: Where the files are.
        download: Unused (nothing is downloaded).
        target: ``"class"`` (class ids, for classification) or ``"openness"`` (float 0.0 closed /
            1.0 open, for the regression task).

    Example:
        >>> import os
        >>> root = os.environ.get("SLIMKIT_DATA")
        >>> ok = root and os.path.isdir(os.path.join(root, "cew_eyes"))
        >>> s = load_cew_eyes(root=root, target="openness") if ok else None
        >>> s is None or (s.input_size, s.train.y.dtype) == ((1, 24, 24), torch.float32)
        True
    """
    path = resolve_root(root)
    if path is None:
        raise ValueError(
            "root: dataset 'cew_eyes' needs root= (output of materialize.py) or $SLIMKIT_DATA"
        )
    for d in (path / "cew_eyes", path):
        if (d / "train.npz").is_file() and (d / "test.npz").is_file():
            splits = [load_npz_split(d / f"{s}.npz", x_keys=("x",)) for s in ("train", "test")]
            classes = splits[0][2] or CLASSES
            train, test = (
                ArrayDataset(x, y, classes, groups=_optional_groups(d / f"{s}.npz", len(x)))
                for (x, y, _), s in zip(splits, ("train", "test"), strict=True)
            )
            break
        if (d / "cew_eyes.npz").is_file():
            train, test = _from_source(d / "cew_eyes.npz")
            break
    else:
        raise ValueError(
            f"root: no cew_eyes data (train.npz/test.npz or cew_eyes.npz) in {str(path)!r}"
        )
    train = binary_target(train, target, name="cew_eyes")
    test = binary_target(test, target, name="cew_eyes")
    return make_splits("cew_eyes", train, test)
