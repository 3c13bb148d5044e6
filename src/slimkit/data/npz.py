"""``npz``: a user's own images stored as numpy arrays."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from slimkit.data.arrays import load_npz_split, to_nchw
from slimkit.data.dataset import ArrayDataset, DatasetSplits, make_splits
from slimkit.data.npz_file import open_npz


def _single_file(path: Path) -> tuple[ArrayDataset, ArrayDataset]:
    with open_npz(path) as z:
        for key in ("x_train", "y_train", "x_test", "y_test"):
            if key not in z.files:
                raise ValueError(
                    f"{key}: key missing in {str(path)!r} (found {', '.join(z.files)})"
                )
        names = [str(c) for c in z["classes"].tolist()] if "classes" in z.files else None
        out = []
        for split in ("train", "test"):
            x = to_nchw(z[f"x_{split}"], field=f"x_{split}", path=path)
            y_np = z[f"y_{split}"]
            if not np.issubdtype(y_np.dtype, np.integer) or y_np.shape != (len(x),):
                raise ValueError(
                    f"y_{split}: expected {len(x)} integer labels in {str(path)!r}, got "
                    f"{y_np.dtype} {y_np.shape}"
                )
            out.append((x, torch.from_numpy(y_np.astype(np.int64))))
    return _with_classes(out[0], out[1], names)


def _with_classes(
    train: tuple[torch.Tensor, torch.Tensor],
    test: tuple[torch.Tensor, torch.Tensor],
    names: list[str] | None,
) -> tuple[ArrayDataset, ArrayDataset]:
    if names is None:
        top = max(int(t[1].max()) if len(t[1]) else -1 for t in (train, test))
        names = [str(i) for i in range(top + 1)]
    return ArrayDataset(train[0], train[1], names), ArrayDataset(test[0], test[1], names)


def load_npz(*, root: str | None = None, download: bool = False) -> DatasetSplits:
    """Load images from numpy files.

    ``root`` is either a directory with ``train.npz`` and ``test.npz`` (keys ``x`` and ``y``,
    optional ``classes``), or one ``.npz`` file with ``x_train, y_train, x_test, y_test``. Images
    are uint8, ``(N, H, W, C)``, ``(N, C, H, W)`` or ``(N, H, W)`` with C in {1, 3}; grayscale
    stays one channel. Mean/std come from the train split.

    Example:
        >>> import numpy as np, tempfile, os
        >>> p = os.path.join(tempfile.mkdtemp(), "d.npz")
        >>> x = np.zeros((4, 8, 8, 1), np.uint8); y = np.array([0, 1, 0, 1])
        >>> np.savez(p, x_train=x, y_train=y, x_test=x, y_test=y)
        >>> load_npz(root=p).input_size
        (1, 8, 8)
    """
    if root is None:
        raise ValueError(
            "root: dataset 'npz' needs root= (a directory with train.npz/test.npz or a .npz file)"
        )
    path = Path(root).expanduser()
    if path.is_file():
        train, test = _single_file(path)
    elif path.is_dir():
        for f in ("train.npz", "test.npz"):
            if not (path / f).is_file():
                raise ValueError(f"root: {str(path / f)!r} does not exist (dataset 'npz')")
        x_tr, y_tr, names = load_npz_split(path / "train.npz", x_keys=("x",))
        x_te, y_te, _ = load_npz_split(path / "test.npz", x_keys=("x",))
        train, test = _with_classes((x_tr, y_tr), (x_te, y_te), names)
    else:
        raise ValueError(f"root: {str(path)!r} does not exist (dataset 'npz')")
    return make_splits("npz", train, test)
