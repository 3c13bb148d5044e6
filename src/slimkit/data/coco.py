"""COCO-format detection and semantic-segmentation data, letterboxed and held in memory.

A dataset root holds, per split (``train``, ``val``)::

    images/{split}/<file>            image files (any format PIL reads)
    annotations/instances_{split}.json   COCO JSON: images, annotations (bbox [x, y, w, h],
                                          category_id, optional iscrowd), categories
    masks/{split}/<file stem>.png    uint8 semantic label maps (segmentation only):
                                      class ids 0..C-1, 255 = ignore

The three paths are arguments (``images_dir``, ``annotations``, ``masks_dir``) in which
``{split}`` is replaced by the split name, so other layouts work too (COCO 2017:
``images_dir="{split}2017"``, ``annotations="annotations/instances_{split}2017.json"``).

Every image is letterboxed to a ``image_size`` square (aspect ratio kept, grey border 114,
boxes scaled and shifted with it; label maps resized nearest with border 255) and stored as one
uint8 tensor ``(N, 3, S, S)``. Category ids map to contiguous labels ``0..K-1`` in increasing id
order; :attr:`CocoDataset.category_ids` keeps the way back. ``iscrowd`` annotations are skipped.

Bad input stops with one line naming the file and the first bad record.

Example:
    >>> import tempfile
    >>> from slimkit.data.shapes import write_shapes
    >>> with tempfile.TemporaryDirectory() as d:
    ...     root = write_shapes(d, n_train=4, n_val=2, image_size=64, seed=0)
    ...     splits = load_coco_splits("shapes", root, image_size=64)
    >>> splits.train.x.shape, splits.num_classes, splits.train.classes
    (torch.Size([4, 3, 64, 64]), 3, ['rectangle', 'ellipse', 'triangle'])
    >>> x, targets = next(iter(splits.train.loader(2, shuffle=False, augment=None,
    ...                                           mean=splits.mean, std=splits.std)))
    >>> x.shape, sorted(targets[0])
    (torch.Size([2, 3, 64, 64]), ['boxes', 'image_id', 'labels'])
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from slimkit.data.augment import normalize
from slimkit.data.boxes import (
    PAD_IMAGE,
    PAD_MASK,
    Letterbox,
    flip_boxes,
    letterbox_array,
    letterbox_boxes,
    letterbox_params,
    shift_boxes,
    shift_images,
    xywh_to_xyxy,
)
from slimkit.data.dataset import DatasetSplits
from slimkit.data.loader import ShardedLoader
from slimkit.data.registry import register_dataset

__all__ = [
    "TASKS",
    "VOC_CLASSES",
    "CocoDataset",
    "CocoLoader",
    "image_stats",
    "load_coco_splits",
    "read_coco_split",
]

TASKS = ("detection", "segmentation")

VOC_CLASSES = (
    "background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair",
    "cow", "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa",
    "train", "tvmonitor",
)  # fmt: skip

IMAGES_DIR = "images/{split}"
ANNOTATIONS = "annotations/instances_{split}.json"
MASKS_DIR = "masks/{split}"
BOX_TOLERANCE = 1.0  # pixels a COCO box may overhang the image (float rounding in exports)


@dataclass
class CocoDataset:
    """Letterboxed images with their boxes (and label maps), held in memory.

    Attributes:
        x: Images, uint8 ``(N, 3, S, S)``.
        boxes: Per image, float32 ``(k, 4)`` xyxy boxes in pixels of the letterboxed image.
        labels: Per image, int64 ``(k,)`` contiguous labels ``0..K-1``.
        image_ids: int64 ``(N,)`` COCO image ids.
        classes: Category names; ``classes[k]`` names label ``k``.
        category_ids: COCO category id of each label.
        task: ``"detection"`` (targets are box dicts) or ``"segmentation"`` (label maps).
        masks: uint8 ``(N, S, S)`` label maps (255 = ignore), or None (detection).
        seg_classes: Names of the label-map classes (segmentation).
        files: Image file names (relative to the images folder).
        letterboxes: How each original image maps into the square (to map boxes back).

    Example:
        >>> import torch
        >>> ds = CocoDataset(torch.zeros(2, 3, 8, 8, dtype=torch.uint8),
        ...                  [torch.tensor([[0.0, 0.0, 4.0, 4.0]]), torch.zeros(0, 4)],
        ...                  [torch.tensor([0]), torch.zeros(0, dtype=torch.int64)],
        ...                  torch.tensor([1, 2]), ["cat"], [17])
        >>> len(ds), ds.num_classes, ds.subset(torch.tensor([1])).image_ids.tolist()
        (2, 1, [2])
    """

    x: torch.Tensor
    boxes: list[torch.Tensor]
    labels: list[torch.Tensor]
    image_ids: torch.Tensor
    classes: list[str]
    category_ids: list[int]
    task: str = "detection"
    masks: torch.Tensor | None = None
    seg_classes: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    letterboxes: list[Letterbox] = field(default_factory=list)

    def __post_init__(self) -> None:
        n = int(self.x.shape[0])
        if self.x.dtype != torch.uint8 or self.x.dim() != 4 or self.x.shape[2] != self.x.shape[3]:
            raise ValueError(
                f"x: expected a uint8 tensor (N, C, S, S), got {self.x.dtype} {tuple(self.x.shape)}"
            )
        if len(self.boxes) != n or len(self.labels) != n or self.image_ids.numel() != n:
            raise ValueError(
                f"boxes/labels/image_ids: expected {n} entries like x, got "
                f"{len(self.boxes)}/{len(self.labels)}/{self.image_ids.numel()}"
            )
        if self.task not in TASKS:
            raise ValueError(f"task: expected one of {', '.join(TASKS)}, got {self.task!r}")
        if self.task == "segmentation" and self.masks is None:
            raise ValueError("masks: a segmentation dataset needs label maps")
        if self.masks is not None and tuple(self.masks.shape) != (n, *self.x.shape[2:]):
            raise ValueError(
                f"masks: expected shape {(n, *self.x.shape[2:])}, got {tuple(self.masks.shape)}"
            )

    def __len__(self) -> int:
        return int(self.x.shape[0])

    @property
    def image_size(self) -> int:
        """Side ``S`` of the letterboxed squares."""
        return int(self.x.shape[-1])

    @property
    def num_classes(self) -> int:
        """Categories (detection) or label-map classes (segmentation)."""
        return len(self.classes) if self.task == "detection" else len(self.seg_classes)

    def subset(self, indices: torch.Tensor | Sequence[int]) -> CocoDataset:
        """A new dataset of the images at ``indices`` (in that order).

        Example:
            >>> import torch
            >>> ds = CocoDataset(torch.zeros(3, 3, 4, 4, dtype=torch.uint8),
            ...                  [torch.zeros(0, 4)] * 3, [torch.zeros(0, dtype=torch.int64)] * 3,
            ...                  torch.tensor([5, 6, 7]), ["a"], [1])
            >>> ds.subset([2, 0]).image_ids.tolist()
            [7, 5]
        """
        idx = torch.as_tensor(indices, dtype=torch.int64).reshape(-1)
        pick = idx.tolist()
        return CocoDataset(
            x=self.x.index_select(0, idx).contiguous(),
            boxes=[self.boxes[i] for i in pick],
            labels=[self.labels[i] for i in pick],
            image_ids=self.image_ids.index_select(0, idx),
            classes=list(self.classes),
            category_ids=list(self.category_ids),
            task=self.task,
            masks=None if self.masks is None else self.masks.index_select(0, idx).contiguous(),
            seg_classes=list(self.seg_classes),
            files=[self.files[i] for i in pick] if self.files else [],
            letterboxes=[self.letterboxes[i] for i in pick] if self.letterboxes else [],
        )

    def to_original(self, index: int, boxes: torch.Tensor) -> torch.Tensor:
        """Map ``(k, 4)`` xyxy boxes of letterboxed image ``index`` back to its original pixels.

        Example:
            >>> import torch
            >>> from slimkit.data.boxes import letterbox_params
            >>> ds = CocoDataset(torch.zeros(1, 3, 4, 4, dtype=torch.uint8), [torch.zeros(0, 4)],
            ...                  [torch.zeros(0, dtype=torch.int64)], torch.tensor([1]), ["a"],
            ...                  [1], letterboxes=[letterbox_params(8, 4, 4)])
            >>> ds.to_original(0, torch.tensor([[0.0, 1.0, 4.0, 3.0]])).tolist()
            [[0.0, 0.0, 8.0, 4.0]]
        """
        lb = self.letterboxes[index]
        shift = torch.tensor([lb.pad_x, lb.pad_y, lb.pad_x, lb.pad_y], dtype=boxes.dtype)
        return (boxes - shift.to(boxes.device)) / lb.scale

    def loader(self, batch_size: int, **options: Any) -> CocoLoader:
        """Batches of this dataset; see :class:`CocoLoader` for the options."""
        return CocoLoader(self, batch_size, **options)


def _augment_settings(augment: Any) -> tuple[bool, int]:
    """(hflip, max translation in pixels) from an ``Augment``-like object, a bool or None."""
    if augment is None or augment is False:
        return False, 0
    if augment is True:
        return True, 0
    hflip = bool(getattr(augment, "hflip", False))
    shift = int(getattr(augment, "crop_padding", 0) or 0)
    return hflip, shift


class CocoLoader(ShardedLoader):
    """Shuffled, sharded, augmented and normalized batches of a :class:`CocoDataset`.

    Yields ``(x, targets)``: ``x`` float32 ``(B, 3, S, S)`` normalized with ``mean``/``std``;
    ``targets`` a list of ``{"boxes": (k, 4) float32 xyxy, "labels": (k,) int64,
    "image_id": int}`` (detection) or int64 label maps ``(B, S, S)`` (segmentation).

    Augmentation (training): a horizontal flip with probability 1/2 (``augment.hflip``) and a
    random translation of up to ``augment.crop_padding`` pixels in x and y (grey border; boxes
    move, are clipped, and are dropped when less than a pixel remains; label maps get border
    255). All randomness of epoch ``e`` comes from :func:`slimkit.data.loader.epoch_generator`
    ``(seed, e)``, drawn per sample for the whole dataset in this order: permutation, flips,
    shifts; so a sample is augmented identically on whatever rank it lands. Ranks split each
    global batch as :func:`slimkit.data.loader.shard_spans` says.

    Args:
        dataset: The images and targets.
        batch_size: Per-rank batch size.
        shuffle: Permute the samples each epoch.
        augment: An ``Augment`` (``hflip``, ``crop_padding``), True (flip only) or None.
        mean: Per-channel mean of ``x / 255``.
        std: Per-channel standard deviation of ``x / 255``.
        seed: Base seed.
        rank: This process's rank.
        world_size: Number of data-parallel processes.
        drop_last: Drop the last incomplete global batch.
        channels_last: Yield ``x`` in ``torch.channels_last`` memory format.
        device: Where batches are produced.

    Example:
        >>> import torch
        >>> ds = CocoDataset(torch.zeros(5, 3, 8, 8, dtype=torch.uint8),
        ...                  [torch.tensor([[0.0, 0.0, 2.0, 2.0]])] * 5, [torch.tensor([0])] * 5,
        ...                  torch.arange(5), ["a"], [1])
        >>> loader = CocoLoader(ds, 2, shuffle=True, augment=True, mean=[0.5], std=[0.5])
        >>> len(loader), [len(t) for _, t in loader]
        (3, [2, 2, 1])
    """

    def __init__(
        self,
        dataset: CocoDataset,
        batch_size: int,
        *,
        shuffle: bool,
        augment: Any = None,
        mean: Sequence[float],
        std: Sequence[float],
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
        drop_last: bool = False,
        channels_last: bool = True,
        device: str | torch.device = "cpu",
    ) -> None:
        super().__init__(
            dataset,
            batch_size,
            shuffle=shuffle,
            mean=mean,
            std=std,
            seed=seed,
            rank=rank,
            world_size=world_size,
            drop_last=drop_last,
            channels_last=channels_last,
            device=device,
        )
        self.hflip, self.max_shift = _augment_settings(augment)
        self.max_shift = min(self.max_shift, dataset.image_size - 1)

    def _draw(self) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        """Permutation ``(N,)``, flips ``(N,)`` bool and shifts ``(N, 2)`` of this epoch."""
        n = len(self.dataset)
        gen, perm = self._permutation()
        flips = torch.randint(0, 2, (n,), generator=gen).bool() if self.hflip else None
        shifts = None
        if self.max_shift > 0:
            p = self.max_shift
            shifts = torch.randint(-p, p + 1, (n, 2), generator=gen)  # (dy, dx)
        return perm, flips, shifts

    def __iter__(self) -> Iterator[tuple[torch.Tensor, Any]]:
        ds = self.dataset
        size = ds.image_size
        perm, flips, shifts = self._draw()
        for start, end in self._spans:
            idx = perm[start:end]
            pick = idx.tolist()
            xb = ds.x.index_select(0, idx)  # (b, 3, S, S) uint8
            mb = None if ds.masks is None else ds.masks.index_select(0, idx)  # (b, S, S) uint8
            boxes = [ds.boxes[i] for i in pick]
            labels = [ds.labels[i] for i in pick]
            if flips is not None:
                f = flips[idx]  # (b,) bool
                xb[f] = xb[f].flip(-1)
                if mb is not None:
                    mb[f] = mb[f].flip(-1)
                boxes = [
                    flip_boxes(b, size) if flip else b
                    for b, flip in zip(boxes, f.tolist(), strict=True)
                ]
            if shifts is not None:
                s = shifts[idx]  # (b, 2) = (dy, dx)
                xb = shift_images(xb, s, PAD_IMAGE)
                if mb is not None:
                    mb = shift_images(mb, s, PAD_MASK)
                moved = [
                    shift_boxes(b, dx, dy, size)
                    for b, (dy, dx) in zip(boxes, s.tolist(), strict=True)
                ]
                boxes = [b for b, _ in moved]
                labels = [lab[keep] for lab, (_, keep) in zip(labels, moved, strict=True)]
            x = normalize(xb.to(self.device), self.mean, self.std, channels_last=self.channels_last)
            if ds.task == "segmentation":
                assert mb is not None
                yield x, mb.to(self.device, torch.int64)  # (b, S, S)
            else:
                ids = ds.image_ids[idx].tolist()
                targets = [
                    {"boxes": b.to(self.device), "labels": lab.to(self.device), "image_id": i}
                    for b, lab, i in zip(boxes, labels, ids, strict=True)
                ]
                yield x, targets


# ----------------------------------------------------------------------------------- reading


def image_stats(x: torch.Tensor) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and std of ``x / 255`` for uint8 ``(N, C, H, W)``, in small chunks.

    Example:
        >>> import torch
        >>> image_stats(torch.full((2, 3, 4, 4), 51, dtype=torch.uint8))[0]
        (0.2, 0.2, 0.2)
    """
    c = x.shape[1]
    total = torch.zeros(c, dtype=torch.float64)
    total_sq = torch.zeros(c, dtype=torch.float64)
    chunk = max(1, 2**24 // max(1, x[0].numel()))  # about 16 M values per chunk
    for start in range(0, x.shape[0], chunk):
        part = x[start : start + chunk].to(torch.float32).div_(255.0)  # (n, C, H, W)
        total += part.sum(dim=(0, 2, 3), dtype=torch.float64)
        total_sq += part.square().sum(dim=(0, 2, 3), dtype=torch.float64)
    count = x.shape[0] * x.shape[2] * x.shape[3]
    if count == 0:
        raise ValueError("x: cannot compute mean/std of an empty dataset")
    mean = total / count
    std = (total_sq / count - mean.square()).clamp_min(1e-12).sqrt()
    return tuple(round(float(v), 6) for v in mean), tuple(round(float(v), 6) for v in std)


def _load_json(path: Path, name: str) -> dict[str, Any]:
    if not path.is_file():
        raise FileNotFoundError(f"{name}: annotation file {path} not found")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: not valid JSON ({err.msg} at line {err.lineno})") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a COCO JSON object, got {type(data).__name__}")
    for key in ("images", "annotations", "categories"):
        if not isinstance(data.get(key), list):
            raise ValueError(f"{path}: missing the {key!r} list of a COCO annotation file")
    return data


def _categories(data: dict[str, Any], path: Path) -> list[tuple[int, str]]:
    cats = []
    for i, cat in enumerate(data["categories"]):
        if not isinstance(cat, dict) or not isinstance(cat.get("id"), int):
            raise ValueError(f"{path}: categories[{i}] has no integer 'id': {cat!r}")
        cats.append((int(cat["id"]), str(cat.get("name", cat["id"]))))
    ids = [c for c, _ in cats]
    if len(set(ids)) != len(ids):
        raise ValueError(f"{path}: duplicate category ids in 'categories'")
    if not cats:
        raise ValueError(f"{path}: 'categories' is empty")
    return sorted(cats)


def _id_list(ids: Sequence[int]) -> str:
    shown = ", ".join(str(i) for i in ids[:8])
    return shown + (", ..." if len(ids) > 8 else "")


def _parse_annotations(
    data: dict[str, Any], path: Path, cat_to_label: dict[int, int], limit: int | None
) -> tuple[list[dict[str, Any]], dict[int, list[tuple[list[float], int]]]]:
    """Images (in file order, first ``limit``) and their valid (xywh box, label) lists."""
    images: list[dict[str, Any]] = []
    seen: dict[int, dict[str, Any]] = {}
    for i, img in enumerate(data["images"]):
        if not isinstance(img, dict) or not isinstance(img.get("id"), int):
            raise ValueError(f"{path}: images[{i}] has no integer 'id': {img!r}")
        if not isinstance(img.get("file_name"), str):
            raise ValueError(f"{path}: image id {img['id']} has no 'file_name'")
        if img["id"] in seen:
            raise ValueError(f"{path}: image id {img['id']} appears twice in 'images'")
        seen[img["id"]] = img
        images.append(img)
    if limit is not None:
        images = images[:limit]
    keep = {img["id"] for img in images}
    per_image: dict[int, list[tuple[list[float], int]]] = {img["id"]: [] for img in images}
    for i, ann in enumerate(data["annotations"]):
        aid = ann.get("id", f"#{i}") if isinstance(ann, dict) else f"#{i}"
        if not isinstance(ann, dict):
            raise ValueError(f"{path}: annotations[{i}] is not an object")
        iid = ann.get("image_id")
        if iid not in seen:
            raise ValueError(f"{path}: annotation id {aid}: image_id {iid!r} is not in 'images'")
        cid = ann.get("category_id")
        if cid not in cat_to_label:
            raise ValueError(
                f"{path}: annotation id {aid} (image id {iid}): category_id {cid!r} is not in "
                f"'categories' (ids {_id_list(sorted(cat_to_label))})"
            )
        bbox = ann.get("bbox")
        if (
            not isinstance(bbox, list)
            or len(bbox) != 4
            or not all(isinstance(v, int | float) and math.isfinite(v) for v in bbox)
        ):
            raise ValueError(
                f"{path}: annotation id {aid} (image id {iid}): bbox must be 4 numbers "
                f"[x, y, w, h], got {bbox!r}"
            )
        img = seen[iid]
        x, y, w, h = (float(v) for v in bbox)
        if w <= 0 or h <= 0:
            raise ValueError(
                f"{path}: annotation id {aid} (image id {iid}, {img['file_name']}): bbox {bbox} "
                "has zero or negative size"
            )
        width, height = img.get("width"), img.get("height")
        if isinstance(width, int | float) and isinstance(height, int | float):
            t = BOX_TOLERANCE
            if x < -t or y < -t or x + w > width + t or y + h > height + t:
                raise ValueError(
                    f"{path}: annotation id {aid} (image id {iid}, {img['file_name']}, "
                    f"{width}x{height}): bbox {bbox} lies outside the image"
                )
        if iid not in keep or ann.get("iscrowd", 0):
            continue
        per_image[iid].append(([x, y, w, h], cat_to_label[cid]))
    return images, per_image


def _read_image(
    img: dict[str, Any],
    image_dir: Path,
    mask_dir: Path | None,
    ann_path: Path,
    size: int,
    num_seg: int,
) -> tuple[np.ndarray, np.ndarray | None, Letterbox]:
    """Letterboxed ``(S, S, 3)`` image, ``(S, S)`` label map or None, and the letterbox."""
    from PIL import Image

    file = image_dir / img["file_name"]
    if not file.is_file():
        raise FileNotFoundError(
            f"{file}: image file not found (image id {img['id']} in {ann_path})"
        )
    try:
        with Image.open(file) as im:
            rgb = np.asarray(im.convert("RGB"))  # (H, W, 3) uint8
    except OSError as err:
        raise ValueError(f"{file}: cannot read the image ({err})") from None
    h, w = rgb.shape[:2]
    jw, jh = img.get("width"), img.get("height")
    if jw is not None and jh is not None and (int(jw), int(jh)) != (w, h):
        raise ValueError(f"{file}: image is {w}x{h} but {ann_path} says {jw}x{jh}")
    lb = letterbox_params(w, h, size)
    out = letterbox_array(rgb, lb, size, nearest=False, fill=PAD_IMAGE)
    mask = None
    if mask_dir is not None:
        mfile = mask_dir / (Path(img["file_name"]).stem + ".png")
        if not mfile.is_file():
            raise FileNotFoundError(f"{mfile}: mask file not found (for image {file.name})")
        with Image.open(mfile) as im:
            if im.mode not in ("L", "P"):
                raise ValueError(
                    f"{mfile}: expected a single-channel (L or P mode) label map, got mode {im.mode}"
                )
            m = np.asarray(im)  # (H, W) uint8 class ids (palette indices for P mode)
        if m.shape != (h, w):
            raise ValueError(
                f"{mfile}: mask is {m.shape[1]}x{m.shape[0]}, expected {w}x{h} (the size of "
                f"image {file.name})"
            )
        bad = np.unique(m[(m >= num_seg) & (m != PAD_MASK)])
        if bad.size:
            raise ValueError(
                f"{mfile}: label {int(bad[0])} outside 0..{num_seg - 1} (255 = ignore)"
            )
        mask = letterbox_array(m, lb, size, nearest=True, fill=PAD_MASK)
    return out, mask, lb


def _seg_names(seg_classes: int | Sequence[str]) -> list[str]:
    if isinstance(seg_classes, int) and not isinstance(seg_classes, bool):
        if seg_classes < 2:
            raise ValueError(f"seg_classes: expected at least 2 classes, got {seg_classes}")
        return (
            list(VOC_CLASSES)
            if seg_classes == len(VOC_CLASSES)
            else [str(i) for i in range(seg_classes)]
        )
    names = [str(s) for s in seg_classes]
    if len(names) < 2:
        raise ValueError(f"seg_classes: expected at least 2 class names, got {names}")
    return names


def read_coco_split(
    root: str | Path,
    split: str,
    *,
    image_size: int = 320,
    task: str = "detection",
    images_dir: str = IMAGES_DIR,
    annotations: str = ANNOTATIONS,
    masks_dir: str = MASKS_DIR,
    seg_classes: int | Sequence[str] = 21,
    categories: list[tuple[int, str]] | None = None,
    limit: int | None = None,
    workers: int | None = None,
    name: str = "coco",
) -> CocoDataset:
    """Read one split of a COCO-format dataset (see the module docstring for the layout).

    Args:
        root: Dataset folder.
        split: Split name substituted for ``{split}`` in the paths.
        image_size: Side of the letterboxed square.
        task: ``"detection"`` or ``"segmentation"`` (also reads the label maps).
        images_dir: Image folder under ``root``.
        annotations: COCO JSON file under ``root``.
        masks_dir: Label-map folder under ``root`` (segmentation).
        seg_classes: Number of label-map classes (21: the VOC names) or their names.
        categories: ``(id, name)`` pairs that fix the label mapping (the train split's), or
            None to take them from this file.
        limit: Read only the first ``limit`` images of the file.
        workers: Decoding threads (default ``min(8, cpu count)``).
        name: Dataset name used in messages.

    Returns:
        The split in memory.

    Raises:
        FileNotFoundError: A missing annotation, image or mask file (one line naming it).
        ValueError: A bad record: the line names the file and the first bad record.

    Example:
        >>> import tempfile
        >>> from slimkit.data.shapes import write_shapes
        >>> with tempfile.TemporaryDirectory() as d:
        ...     ds = read_coco_split(write_shapes(d, 2, 1, 32), "val", image_size=32,
        ...                          task="segmentation", seg_classes=4)
        >>> ds.masks.shape, ds.seg_classes
        (torch.Size([1, 32, 32]), ['0', '1', '2', '3'])
    """
    if task not in TASKS:
        raise ValueError(f"dataset.task: expected one of {', '.join(TASKS)}, got {task!r}")
    if isinstance(image_size, bool) or not isinstance(image_size, int) or image_size < 16:
        raise ValueError(f"dataset.image_size: expected an integer >= 16, got {image_size!r}")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise ValueError(f"dataset.limit: expected a positive integer or null, got {limit!r}")
    seg_names = _seg_names(seg_classes) if task == "segmentation" else []
    root = Path(root)
    ann_path = root / annotations.format(split=split)
    data = _load_json(ann_path, name)
    cats = categories if categories is not None else _categories(data, ann_path)
    cat_to_label = {cid: k for k, (cid, _) in enumerate(cats)}
    images, per_image = _parse_annotations(data, ann_path, cat_to_label, limit)
    image_dir = root / images_dir.format(split=split)
    mask_dir = root / masks_dir.format(split=split) if task == "segmentation" else None
    n = len(images)
    x = torch.empty((n, 3, image_size, image_size), dtype=torch.uint8)
    masks = torch.empty((n, image_size, image_size), dtype=torch.uint8) if mask_dir else None
    boxes: list[torch.Tensor] = []
    labels: list[torch.Tensor] = []
    letterboxes: list[Letterbox] = []

    def read(img: dict[str, Any]) -> tuple[np.ndarray, np.ndarray | None, Letterbox]:
        return _read_image(img, image_dir, mask_dir, ann_path, image_size, len(seg_names))

    threads = workers if workers is not None else min(8, os.cpu_count() or 1)
    with ThreadPoolExecutor(max(1, threads)) as pool:  # PIL decodes outside the GIL
        for i, (img, (pixels, mask, lb)) in enumerate(
            zip(images, pool.map(read, images), strict=True)
        ):
            x[i] = torch.from_numpy(pixels).permute(2, 0, 1)  # (S, S, 3) -> (3, S, S)
            if masks is not None and mask is not None:
                masks[i] = torch.from_numpy(mask)
            anns = per_image[img["id"]]
            xywh = torch.tensor([a[0] for a in anns], dtype=torch.float32).reshape(-1, 4)
            w, h = img.get("width", lb.new_w / lb.scale), img.get("height", lb.new_h / lb.scale)
            xyxy = xywh_to_xyxy(xywh)  # (k, 4)
            xyxy[:, 0::2] = xyxy[:, 0::2].clamp(0, float(w))  # overhang within the tolerance
            xyxy[:, 1::2] = xyxy[:, 1::2].clamp(0, float(h))
            boxes.append(letterbox_boxes(xyxy, lb))
            labels.append(torch.tensor([a[1] for a in anns], dtype=torch.int64))
            letterboxes.append(lb)
    return CocoDataset(
        x=x,
        boxes=boxes,
        labels=labels,
        image_ids=torch.tensor([img["id"] for img in images], dtype=torch.int64),
        classes=[c for _, c in cats],
        category_ids=[c for c, _ in cats],
        task=task,
        masks=masks,
        seg_classes=seg_names,
        files=[img["file_name"] for img in images],
        letterboxes=letterboxes,
    )


def load_coco_splits(
    name: str,
    root: str | Path,
    *,
    task: str = "detection",
    image_size: int = 320,
    images_dir: str = IMAGES_DIR,
    annotations: str = ANNOTATIONS,
    masks_dir: str = MASKS_DIR,
    seg_classes: int | Sequence[str] = 21,
    splits: Sequence[str] = ("train", "val"),
    limit: int | None = None,
    workers: int | None = None,
) -> DatasetSplits:
    """Train and validation splits of a COCO-format dataset as :class:`DatasetSplits`.

    ``train`` is the first split, ``test`` the second (COCO's ``val``); the label mapping comes
    from the train file. ``num_classes`` is the number of categories (detection) or of
    label-map classes (segmentation); mean/std come from the training images.

    Example:
        >>> import tempfile
        >>> from slimkit.data.shapes import write_shapes
        >>> with tempfile.TemporaryDirectory() as d:
        ...     s = load_coco_splits("shapes", write_shapes(d, 2, 2, 32), image_size=32,
        ...                          task="segmentation", seg_classes=4)
        >>> s.num_classes, s.input_size, len(s.test)
        (4, (3, 32, 32), 2)
    """
    if len(splits) != 2:
        raise ValueError(f"dataset.splits: expected [train, val] names, got {list(splits)}")
    opts: dict[str, Any] = dict(
        image_size=image_size,
        task=task,
        images_dir=images_dir,
        annotations=annotations,
        masks_dir=masks_dir,
        seg_classes=seg_classes,
        limit=limit,
        workers=workers,
        name=name,
    )
    train = read_coco_split(root, splits[0], **opts)
    cats = list(zip(train.category_ids, train.classes, strict=True))
    test = read_coco_split(root, splits[1], categories=cats, **opts)
    if len(train) == 0:
        raise ValueError(f"{name}: the {splits[0]!r} split has no images")
    mean, std = image_stats(train.x)
    return DatasetSplits(
        name=name,
        train=train,  # type: ignore[arg-type]
        test=test,  # type: ignore[arg-type]
        num_classes=train.num_classes,
        mean=mean,
        std=std,
        input_size=(3, image_size, image_size),
    )


# ------------------------------------------------------------------------------ registration


def _no_download(name: str, download: bool) -> None:
    if download:
        raise ValueError(
            f"data.download: {name} cannot be downloaded by slimkit (torchvision has no COCO "
            "download); get it from https://cocodataset.org and set data.root"
        )


def _coco128_root(root: str | None) -> Path:
    if root is not None:
        return Path(root)
    base = os.environ.get("SLIMKIT_DATA")
    return Path(base) / "coco128" if base else Path("../shared/data/coco128")


@register_dataset(
    "coco128", "COCO128 (128 train / val images, 80 categories, VOC label maps), letterboxed"
)
def load_coco128(
    *,
    root: str | None = None,
    download: bool = False,
    task: str = "detection",
    image_size: int = 320,
    images_dir: str = IMAGES_DIR,
    annotations: str = ANNOTATIONS,
    masks_dir: str = MASKS_DIR,
    seg_classes: int | list[str] = 21,
    limit: int | None = None,
    workers: int | None = None,
) -> DatasetSplits:
    """COCO128 in COCO format (root: ``$SLIMKIT_DATA/coco128``, else ``../shared/data/coco128``).

    See :func:`load_coco_splits` for the arguments; ``task`` picks box targets or label maps.
    """
    _no_download("coco128", download)
    path = _coco128_root(root)
    if not path.is_dir():
        raise FileNotFoundError(
            f"data.root: coco128 folder {path} not found; set data.root or $SLIMKIT_DATA to a "
            "folder holding images/{train,val}, annotations/instances_{train,val}.json"
        )
    return load_coco_splits(
        "coco128",
        path,
        task=task,
        image_size=image_size,
        images_dir=images_dir,
        annotations=annotations,
        masks_dir=masks_dir,
        seg_classes=seg_classes,
        limit=limit,
        workers=workers,
    )


@register_dataset("coco", "any COCO-format dataset (root required; e.g. COCO 2017), letterboxed")
def load_coco(
    *,
    root: str | None = None,
    download: bool = False,
    task: str = "detection",
    image_size: int = 320,
    images_dir: str = IMAGES_DIR,
    annotations: str = ANNOTATIONS,
    masks_dir: str = MASKS_DIR,
    seg_classes: int | list[str] = 21,
    splits: list[str] | tuple[str, str] = ("train", "val"),
    limit: int | None = None,
    workers: int | None = None,
) -> DatasetSplits:
    """A COCO-format dataset at ``root``; see :func:`load_coco_splits` for the arguments."""
    _no_download("coco", download)
    if root is None:
        raise ValueError(
            "data.root: the coco dataset needs root=DIR (with images/, annotations/ as in "
            "slimkit.data.coco; COCO 2017: images_dir='{split}2017', "
            "annotations='annotations/instances_{split}2017.json')"
        )
    if not Path(root).is_dir():
        raise FileNotFoundError(f"data.root: folder {root} not found")
    return load_coco_splits(
        "coco",
        root,
        task=task,
        image_size=image_size,
        images_dir=images_dir,
        annotations=annotations,
        masks_dir=masks_dir,
        seg_classes=seg_classes,
        splits=tuple(splits),
        limit=limit,
        workers=workers,
    )
