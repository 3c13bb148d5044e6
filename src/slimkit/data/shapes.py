"""``shapes``: a procedural COCO-format dataset (rectangles, ellipses, triangles) for tests and demos.

:func:`write_shapes` draws 1 to 3 coloured shapes per image on a textured background with
numpy and writes a real dataset in the layout :mod:`slimkit.data.coco` reads: JPEG (train) and
PNG (val) images of varied sizes around ``image_size`` (so letterboxing is exercised), COCO JSON
with tight boxes, and label maps (0 background, 1 rectangle, 2 ellipse, 3 triangle). Shapes do
not overlap, so each box is the tight box of its mask. Nothing is downloaded; a few hundred
images take a second.

Example:
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     s = load_shapes(root=d, n_train=4, n_val=2, image_size=48)
    >>> s.name, len(s.train), len(s.test), s.num_classes
    ('shapes', 4, 2, 3)
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from slimkit.data.coco import load_coco_splits
from slimkit.data.dataset import DatasetSplits
from slimkit.data.registry import register_dataset

__all__ = ["SHAPE_CLASSES", "load_shapes", "write_shapes"]

SHAPE_CLASSES = ("rectangle", "ellipse", "triangle")
_DONE = ".complete"


def _background(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A smooth random colour field plus pixel noise: ``(h, w, 3)`` float in 0..255."""
    coarse = rng.uniform(40, 215, size=(4, 4, 3))  # (4, 4, 3) colour grid
    ys = np.linspace(0, 3, h)
    xs = np.linspace(0, 3, w)
    y0 = np.minimum(ys.astype(int), 2)
    x0 = np.minimum(xs.astype(int), 2)
    fy = (ys - y0)[:, None, None]  # (h, 1, 1)
    fx = (xs - x0)[None, :, None]  # (1, w, 1)
    top = coarse[y0][:, x0] * (1 - fx) + coarse[y0][:, x0 + 1] * fx  # (h, w, 3)
    bottom = coarse[y0 + 1][:, x0] * (1 - fx) + coarse[y0 + 1][:, x0 + 1] * fx
    field = top * (1 - fy) + bottom * fy
    return field + rng.normal(0, 12, size=(h, w, 3))


def _shape_mask(
    rng: np.random.Generator, kind: int, h: int, w: int, box: tuple[int, int, int, int]
) -> np.ndarray:
    """Boolean ``(h, w)`` mask of a shape of class ``kind`` (1..3) inside ``box`` (x0, y0, x1, y1)."""
    x0, y0, x1, y1 = box
    yy, xx = np.mgrid[0:h, 0:w]  # (h, w) pixel rows / columns
    cx, cy = xx + 0.5, yy + 0.5  # pixel centres
    if kind == 1:  # rectangle
        return (cx >= x0) & (cx < x1) & (cy >= y0) & (cy < y1)
    if kind == 2:  # ellipse inscribed in the box
        rx, ry = (x1 - x0) / 2, (y1 - y0) / 2
        return ((cx - (x0 + rx)) / rx) ** 2 + ((cy - (y0 + ry)) / ry) ** 2 <= 1.0
    # triangle: apex on the top edge at a random position, base on the bottom edge
    ax = rng.uniform(x0, x1)
    pts = [(ax, y0), (x1, y1), (x0, y1)]
    inside = np.ones((h, w), dtype=bool)
    for (px, py), (qx, qy) in zip(pts, pts[1:] + pts[:1], strict=True):
        # clockwise in image coordinates: inside is where the cross product is >= 0
        inside &= (qx - px) * (cy - py) - (qy - py) * (cx - px) >= 0
    return inside


def _draw_image(
    rng: np.random.Generator, h: int, w: int
) -> tuple[np.ndarray, np.ndarray, list[tuple[list[int], int]]]:
    """One image ``(h, w, 3)`` uint8, its label map ``(h, w)`` and ``([x, y, w, h], class)`` list."""
    image = _background(rng, h, w)
    labels = np.zeros((h, w), dtype=np.uint8)
    anns: list[tuple[list[int], int]] = []
    side = min(h, w)
    for _ in range(int(rng.integers(1, 4))):
        for _attempt in range(20):
            bw = int(rng.integers(side // 6, side // 2 + 1))
            bh = int(rng.integers(side // 6, side // 2 + 1))
            x0 = int(rng.integers(0, w - bw + 1))
            y0 = int(rng.integers(0, h - bh + 1))
            if labels[max(0, y0 - 1) : y0 + bh + 1, max(0, x0 - 1) : x0 + bw + 1].any():
                continue  # keep shapes apart so boxes are tight and unoccluded
            kind = int(rng.integers(1, 4))
            mask = _shape_mask(rng, kind, h, w, (x0, y0, x0 + bw, y0 + bh))
            if mask.sum() < 4:
                continue
            colour = rng.uniform(0, 255, size=3)
            while np.abs(colour - image[mask].mean(0)).max() < 60:  # visible against the ground
                colour = rng.uniform(0, 255, size=3)
            image[mask] = colour + rng.normal(0, 6, size=(int(mask.sum()), 3))
            labels[mask] = kind
            rows, cols = np.nonzero(mask)
            x_min, y_min = int(cols.min()), int(rows.min())
            tight = [x_min, y_min, int(cols.max()) + 1 - x_min, int(rows.max()) + 1 - y_min]
            anns.append((tight, kind))
            break
    return np.clip(image, 0, 255).round().astype(np.uint8), labels, anns


def write_shapes(
    root: str | Path, n_train: int = 64, n_val: int = 32, image_size: int = 96, seed: int = 0
) -> Path:
    """Write the shapes dataset into ``root`` (COCO layout of :mod:`slimkit.data.coco`).

    Image sides are drawn uniformly in ``[0.75, 1.25] * image_size``.

    Args:
        root: Destination folder (created).
        n_train: Training images (JPEG).
        n_val: Validation images (PNG).
        image_size: Typical image side in pixels.
        seed: Seed of everything drawn.

    Returns:
        ``root`` as a :class:`~pathlib.Path`.

    Example:
        >>> import json, tempfile
        >>> with tempfile.TemporaryDirectory() as d:
        ...     ann = json.loads((write_shapes(d, 3, 1, 32) / "annotations/instances_val.json").read_text())
        >>> [c["name"] for c in ann["categories"]], len(ann["images"])
        (['rectangle', 'ellipse', 'triangle'], 1)
    """
    from PIL import Image

    for field, value, low in (
        ("n_train", n_train, 1),
        ("n_val", n_val, 1),
        ("image_size", image_size, 16),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"shapes.{field}: expected an integer >= {low}, got {value!r}")
    root = Path(root)
    rng = np.random.default_rng(seed)
    categories = [
        {"id": k + 1, "name": n, "supercategory": "shape"} for k, n in enumerate(SHAPE_CLASSES)
    ]
    ann_id = 1
    for split, count, ext in (("train", n_train, ".jpg"), ("val", n_val, ".png")):
        img_dir, mask_dir = root / "images" / split, root / "masks" / split
        img_dir.mkdir(parents=True, exist_ok=True)
        mask_dir.mkdir(parents=True, exist_ok=True)
        images, annotations = [], []
        for i in range(count):
            h, w = (int(v) for v in rng.integers(image_size * 3 // 4, image_size * 5 // 4 + 1, 2))
            pixels, labels, anns = _draw_image(rng, h, w)
            stem = f"{split}_{i:05d}"
            if ext == ".jpg":
                Image.fromarray(pixels).save(img_dir / f"{stem}{ext}", quality=95)
            else:
                Image.fromarray(pixels).save(img_dir / f"{stem}{ext}")
            Image.fromarray(labels).save(mask_dir / f"{stem}.png")
            image_id = i + 1
            images.append({"id": image_id, "file_name": f"{stem}{ext}", "width": w, "height": h})
            for bbox, kind in anns:
                annotations.append(
                    {
                        "id": ann_id,
                        "image_id": image_id,
                        "category_id": kind,
                        "bbox": bbox,
                        "area": int((labels == kind).sum()),
                        "iscrowd": 0,
                    }
                )
                ann_id += 1
        (root / "annotations").mkdir(parents=True, exist_ok=True)
        doc = {"images": images, "annotations": annotations, "categories": categories}
        (root / "annotations" / f"instances_{split}.json").write_text(json.dumps(doc))
    params = {"n_train": n_train, "n_val": n_val, "image_size": image_size, "seed": seed}
    (root / _DONE).write_text(json.dumps(params))  # what load_shapes checks before reusing it
    return root


def _cache_dir(n_train: int, n_val: int, image_size: int, seed: int) -> Path:
    base = Path(os.environ.get("SLIMKIT_CACHE", ".cache"))
    return base / f"shapes-{n_train}-{n_val}-{image_size}-{seed}"


def ensure_shapes(
    root: str | Path | None, n_train: int, n_val: int, image_size: int, seed: int
) -> Path:
    """The folder holding the shapes data, written once (atomically) if absent.

    ``root=None`` uses ``$SLIMKIT_CACHE`` (default ``.cache``) ``/shapes-<params>``. The data is
    written into a temporary sibling folder and renamed, so concurrent ranks never read half a
    dataset.

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as d:
        ...     (ensure_shapes(d + "/s", 2, 1, 32, 0) / _DONE).is_file()
        True
    """
    path = Path(root) if root is not None else _cache_dir(n_train, n_val, image_size, seed)
    marker = path / _DONE
    if marker.is_file():
        params = json.loads(marker.read_text())
        wanted = {"n_train": n_train, "n_val": n_val, "image_size": image_size, "seed": seed}
        if params != wanted:
            raise ValueError(
                f"data.root: {path} holds shapes written with {params}, not {wanted}; "
                "use another root"
            )
        return path
    if path.exists() and any(path.iterdir()):
        if marker.is_file():  # another rank finished writing it meanwhile
            return ensure_shapes(path, n_train, n_val, image_size, seed)
        raise ValueError(
            f"data.root: {path} is not empty and holds no shapes dataset; give a new or empty folder"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}-", dir=path.parent))
    try:
        write_shapes(tmp, n_train, n_val, image_size, seed)
        if path.is_dir() and not any(path.iterdir()):
            path.rmdir()
        try:
            tmp.rename(path)
        except OSError:
            if not (path / _DONE).is_file():  # not another rank's finished copy: a real problem
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return path


@register_dataset("shapes", "procedural rectangles/ellipses/triangles in COCO format (no download)")
def load_shapes(
    *,
    root: str | None = None,
    download: bool = False,
    task: str = "detection",
    n_train: int = 64,
    n_val: int = 32,
    image_size: int = 96,
    seed: int = 0,
    workers: int | None = None,
) -> DatasetSplits:
    """The shapes dataset, written once into ``root`` (or the cache) and read as COCO.

    ``task="segmentation"`` yields 4-class label maps (background + 3 shapes). ``download`` is
    ignored (nothing to download).

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as d:
        ...     s = load_shapes(root=d, task="segmentation", n_train=2, n_val=2, image_size=32)
        >>> s.num_classes, s.train.seg_classes
        (4, ['background', 'rectangle', 'ellipse', 'triangle'])
    """
    path = ensure_shapes(root, n_train, n_val, image_size, seed)
    splits = load_coco_splits(
        "shapes",
        path,
        task=task,
        image_size=image_size,
        seg_classes=["background", *SHAPE_CLASSES],
        workers=workers,
    )
    return splits
