"""``digits``: scikit-learn's bundled 8x8 handwritten digits as 3x32x32 uint8 images."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from slimkit.data.dataset import ArrayDataset, DatasetSplits, make_splits


def load_digits_splits(*, root: str | None = None, download: bool = False) -> DatasetSplits:
    """Build the ``digits`` dataset (no download, ships inside scikit-learn).

    Pixel values 0..16 are scaled to 0..255, upsampled bilinearly to 32x32 and replicated to three
    channels. The split is stratified, 25 % test, ``random_state=0``. Mean/std come from the train
    split. ``root`` and ``download`` are ignored.

    Example:
        >>> s = load_digits_splits()
        >>> len(s.train), len(s.test), s.num_classes
        (1347, 450, 10)
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    bunch = load_digits()
    images = torch.from_numpy(np.asarray(bunch.images, dtype=np.float32))  # (1797, 8, 8), 0..16
    images = images.mul(255.0 / 16.0).unsqueeze(1)  # (1797, 1, 8, 8), 0..255
    up = F.interpolate(
        images, size=(32, 32), mode="bilinear", align_corners=False
    )  # (1797,1,32,32)
    x = up.round_().clamp_(0, 255).to(torch.uint8).expand(-1, 3, -1, -1).contiguous()
    y = torch.from_numpy(np.asarray(bunch.target, dtype=np.int64))
    idx_train, idx_test = train_test_split(
        np.arange(len(y)), test_size=0.25, stratify=bunch.target, random_state=0
    )
    classes = [str(i) for i in range(10)]
    tr = torch.from_numpy(np.sort(idx_train))
    te = torch.from_numpy(np.sort(idx_test))
    train = ArrayDataset(x[tr].contiguous(), y[tr], classes)
    test = ArrayDataset(x[te].contiguous(), y[te], classes)
    return make_splits("digits", train, test)
