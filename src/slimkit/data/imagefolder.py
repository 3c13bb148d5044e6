"""``imagefolder``: class-per-folder image files, decoded once into memory."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from slimkit.data.dataset import ArrayDataset, DatasetSplits, make_splits

IMAGE_EXTENSIONS = frozenset(
    {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm"}
)


def _read_split(folder: Path, classes: list[str], size: int, mode: str) -> ArrayDataset:
    from PIL import Image

    images: list[np.ndarray] = []
    labels: list[int] = []
    for label, name in enumerate(classes):
        class_dir = folder / name
        if not class_dir.is_dir():
            continue
        for f in sorted(class_dir.iterdir()):
            if f.suffix.lower() not in IMAGE_EXTENSIONS:
                continue
            with Image.open(f) as im:
                im = im.convert(mode)
                if im.size != (size, size):
                    im = im.resize((size, size), Image.Resampling.BILINEAR)
                images.append(np.asarray(im, dtype=np.uint8))
        labels.extend([label] * (len(images) - len(labels)))
    extra = sorted(p.name for p in folder.iterdir() if p.is_dir() and p.name not in classes)
    if extra:
        raise ValueError(
            f"root: class folder {str(folder / extra[0])!r} is not among the train classes"
        )
    if not images:
        raise ValueError(
            f"root: no images ({', '.join(sorted(IMAGE_EXTENSIONS))}) in {str(folder)!r}"
        )
    arr = np.stack(images)  # (N, H, W) for "L", (N, H, W, 3) for "RGB"
    arr = arr[:, None] if arr.ndim == 3 else arr.transpose(0, 3, 1, 2)  # -> (N, C, H, W)
    x = torch.from_numpy(np.ascontiguousarray(arr))
    return ArrayDataset(x, torch.tensor(labels, dtype=torch.int64), classes)


def load_imagefolder(
    *,
    root: str | None = None,
    download: bool = False,
    image_size: int = 32,
    grayscale: bool = False,
) -> DatasetSplits:
    """Load ``root/train/<class>/*`` and ``root/test/<class>/*`` (or ``val/``) into memory.

    Every image is decoded once with PIL, converted to RGB (or L when ``grayscale``) and resized to
    ``image_size`` x ``image_size`` (bilinear). Classes are the sorted folder names of ``train/``.

    Args:
        root: The directory holding ``train/`` and ``test/`` (or ``val/``).
        download: Ignored.
        image_size: Side of the square images after resizing.
        grayscale: Keep one channel instead of three.

    Example:
        >>> import numpy as np, tempfile, os
        >>> from PIL import Image
        >>> d = tempfile.mkdtemp()
        >>> for split in ("train", "test"):
        ...     for c in ("cat", "dog"):
        ...         os.makedirs(f"{d}/{split}/{c}")
        ...         Image.new("RGB", (10, 10)).save(f"{d}/{split}/{c}/0.png")
        >>> load_imagefolder(root=d, image_size=16).input_size
        (3, 16, 16)
    """
    if isinstance(image_size, bool) or not isinstance(image_size, int) or image_size < 1:
        raise ValueError(f"dataset.image_size: expected a positive integer, got {image_size!r}")
    if root is None:
        raise ValueError(
            "root: dataset 'imagefolder' needs root= (a directory with train/ and test/)"
        )
    path = Path(root).expanduser()
    train_dir = path / "train"
    if not train_dir.is_dir():
        raise ValueError(f"root: {str(train_dir)!r} does not exist (dataset 'imagefolder')")
    test_dir = next((path / d for d in ("test", "val") if (path / d).is_dir()), None)
    if test_dir is None:
        raise ValueError(f"root: neither {str(path / 'test')!r} nor {str(path / 'val')!r} exists")
    classes = sorted(p.name for p in train_dir.iterdir() if p.is_dir())
    if not classes:
        raise ValueError(f"root: no class folders in {str(train_dir)!r}")
    mode = "L" if grayscale else "RGB"
    train = _read_split(train_dir, classes, image_size, mode)
    test = _read_split(test_dir, classes, image_size, mode)
    return make_splits("imagefolder", train, test)
