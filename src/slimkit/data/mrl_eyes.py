"""``mrl_eyes``: MRL Eye Dataset, 48x48 infrared grey eye crops, open/closed, split by subject.

The MRL Eye Dataset (Fusek, 2018: 84,898 near-infrared eye crops of 37 drivers) is **not** in the
shared data folder of these machines (``shared/data/README.md``: no complete copy could be
fetched), so this loader reads files you prepare yourself:

```
ROOT/mrl_eyes/train.npz   ROOT/mrl_eyes/test.npz      (or train.npz/test.npz directly in ROOT)
  x        uint8 (N, 48, 48, 1)   grey infrared crops (also (N, 48, 48) or (N, 1, 48, 48))
  y        int   (N,)             0 closed, 1 open
  subject  int   (N,)             the driver each crop shows
```

The train/test split is by subject: no test subject may appear in train (checked on load). The
subject ids become :attr:`~slimkit.data.dataset.ArrayDataset.groups`, so a validation split
carved from train also keeps each subject on one side.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from slimkit.data.arrays import to_nchw
from slimkit.data.dataset import (
    ArrayDataset,
    DatasetSplits,
    binary_target,
    make_splits,
    resolve_root,
)
from slimkit.data.npz_file import open_npz

CLASSES = ["closed", "open"]


def _read(path: Path) -> ArrayDataset:
    with open_npz(path) as z:
        for key in ("x", "y", "subject"):
            if key not in z.files:
                raise ValueError(
                    f"{key}: key missing in {str(path)!r} (found {', '.join(z.files)})"
                )
        x = to_nchw(z["x"], field="x", path=path)
        y, subject = z["y"], z["subject"]
    n = len(x)
    if x.shape[1] != 1:
        raise ValueError(f"x: expected grey images (1 channel) in {str(path)!r}, got {x.shape[1]}")
    for key, arr in (("y", y), ("subject", subject)):
        if not np.issubdtype(arr.dtype, np.integer) or arr.shape != (n,):
            raise ValueError(
                f"{key}: expected {n} integers in {str(path)!r}, got {arr.dtype} {arr.shape}"
            )
    if n and (y.min() < 0 or y.max() > 1):
        raise ValueError(
            f"y: expected 0 (closed) or 1 (open) in {str(path)!r}, got {y.min()}..{y.max()}"
        )
    return ArrayDataset(
        x,
        torch.from_numpy(y.astype(np.int64)),
        CLASSES,
        groups=torch.from_numpy(subject.astype(np.int64)),
    )


def mrl_eyes(
    *, root: str | None = None, download: bool = False, target: str = "class"
) -> DatasetSplits:
    """Load the MRL eye crops (layout in the module docstring); subjects are kept as ``groups``.

    Args:
        root: The directory holding ``mrl_eyes/`` (default ``$SLIMKIT_DATA``), or ``mrl_eyes/``
            itself.
        download: Unused (nothing is downloaded).
        target: ``"class"`` (class ids 0 closed / 1 open, for classification) or ``"openness"``
            (float 0.0 / 1.0, for the regression task).

    Returns:
        Train/test splits; mean/std come from the train split.

    Example:
        >>> import numpy as np, tempfile, os
        >>> d = os.path.join(tempfile.mkdtemp(), "mrl_eyes"); os.makedirs(d)
        >>> for split, subj in (("train", [1, 1, 2, 2]), ("test", [3, 3])):
        ...     n = len(subj)
        ...     np.savez(os.path.join(d, f"{split}.npz"), x=np.zeros((n, 48, 48, 1), np.uint8),
        ...              y=np.arange(n) % 2, subject=np.array(subj))
        >>> s = mrl_eyes(root=os.path.dirname(d), target="openness")
        >>> s.input_size, s.train.groups.tolist(), s.test.y.tolist()
        ((1, 48, 48), [1, 1, 2, 2], [0.0, 1.0])
    """
    path = resolve_root(root)
    if path is None:
        raise ValueError(
            "root: dataset 'mrl_eyes' needs root= (a directory with mrl_eyes/train.npz and "
            "test.npz) or $SLIMKIT_DATA; the MRL data is not in shared/data"
        )
    for d in (path / "mrl_eyes", path):
        if (d / "train.npz").is_file() and (d / "test.npz").is_file():
            break
    else:
        raise ValueError(
            f"root: no mrl_eyes data in {str(path)!r}; expected mrl_eyes/train.npz and "
            "mrl_eyes/test.npz (x, y, subject); the MRL data is not in shared/data"
        )
    train, test = _read(d / "train.npz"), _read(d / "test.npz")
    assert train.groups is not None and test.groups is not None
    shared = np.intersect1d(train.groups.numpy(), test.groups.numpy())
    if len(shared):
        raise ValueError(
            f"subject: {len(shared)} subject(s) appear in both train and test in {str(d)!r} "
            f"(e.g. {int(shared[0])}); the MRL split must be by subject"
        )
    train = binary_target(train, target, name="mrl_eyes")
    test = binary_target(test, target, name="mrl_eyes")
    return make_splits("mrl_eyes", train, test)
