"""Letterboxing and box/mask geometry for detection and segmentation data.

Boxes are ``(k, 4)`` float tensors in ``xyxy`` pixel coordinates (``x1, y1, x2, y2``; pixel
``i`` spans ``[i, i + 1)``, so a box covering columns 0..9 has ``x1 = 0, x2 = 10``).

Example:
    >>> import torch
    >>> lb = letterbox_params(200, 100, 100)  # a 200x100 (w x h) image into a 100x100 square
    >>> lb
    Letterbox(scale=0.5, new_w=100, new_h=50, pad_x=0, pad_y=25)
    >>> letterbox_boxes(torch.tensor([[10.0, 20.0, 60.0, 80.0]]), lb).tolist()
    [[5.0, 35.0, 30.0, 65.0]]
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch

__all__ = [
    "PAD_IMAGE",
    "PAD_MASK",
    "Letterbox",
    "flip_boxes",
    "letterbox_array",
    "letterbox_boxes",
    "letterbox_params",
    "shift_boxes",
    "shift_images",
    "xywh_to_xyxy",
    "xyxy_to_xywh",
]

PAD_IMAGE = 114  # grey border of letterboxed images (the YOLO convention)
PAD_MASK = 255  # border of letterboxed label maps: "ignore"


class Letterbox(NamedTuple):
    """How an image of size ``(w, h)`` maps into a ``size x size`` square.

    The image is resized by ``scale`` to ``(new_w, new_h)`` and pasted at ``(pad_x, pad_y)``; a
    point ``(x, y)`` of the original lands at ``(x * scale + pad_x, y * scale + pad_y)``.
    """

    scale: float
    new_w: int
    new_h: int
    pad_x: int
    pad_y: int


def letterbox_params(w: int, h: int, size: int) -> Letterbox:
    """Scale and centred padding that fit a ``w x h`` image into a ``size x size`` square.

    Args:
        w: Image width in pixels.
        h: Image height in pixels.
        size: Side of the square.

    Returns:
        The :class:`Letterbox` parameters (aspect ratio kept, longer side = ``size``).

    Example:
        >>> letterbox_params(64, 48, 32)
        Letterbox(scale=0.5, new_w=32, new_h=24, pad_x=0, pad_y=4)
    """
    if w < 1 or h < 1 or size < 1:
        raise ValueError(f"letterbox: sizes must be positive, got w={w}, h={h}, size={size}")
    scale = size / max(w, h)
    new_w = min(size, max(1, round(w * scale)))
    new_h = min(size, max(1, round(h * scale)))
    return Letterbox(scale, new_w, new_h, (size - new_w) // 2, (size - new_h) // 2)


def letterbox_array(
    image: np.ndarray, lb: Letterbox, size: int, *, nearest: bool, fill: int
) -> np.ndarray:
    """Resize ``image`` (``(H, W)`` or ``(H, W, C)`` uint8) as ``lb`` says and pad it to a square.

    Args:
        image: The uint8 image or label map.
        lb: Parameters from :func:`letterbox_params`.
        size: Side of the output square.
        nearest: Nearest-neighbour resize (label maps) instead of bilinear (images).
        fill: Value of the border.

    Returns:
        ``(size, size)`` or ``(size, size, C)`` uint8 array.

    Example:
        >>> import numpy as np
        >>> m = np.ones((2, 4), dtype=np.uint8)
        >>> letterbox_array(m, letterbox_params(4, 2, 4), 4, nearest=True, fill=255)[:, 0].tolist()
        [255, 1, 1, 255]
    """
    from PIL import Image

    h, w = image.shape[:2]
    if (w, h) != (lb.new_w, lb.new_h):
        resample = Image.Resampling.NEAREST if nearest else Image.Resampling.BILINEAR
        image = np.asarray(Image.fromarray(image).resize((lb.new_w, lb.new_h), resample))
    out = np.full((size, size, *image.shape[2:]), fill, dtype=np.uint8)
    out[lb.pad_y : lb.pad_y + lb.new_h, lb.pad_x : lb.pad_x + lb.new_w] = image
    return out


def letterbox_boxes(boxes: torch.Tensor, lb: Letterbox) -> torch.Tensor:
    """Map ``(k, 4)`` xyxy boxes of the original image into the letterboxed square.

    Example:
        >>> import torch
        >>> letterbox_boxes(torch.tensor([[0.0, 0.0, 64.0, 48.0]]), letterbox_params(64, 48, 32))
        tensor([[ 0.,  4., 32., 28.]])
    """
    shift = torch.tensor([lb.pad_x, lb.pad_y, lb.pad_x, lb.pad_y], dtype=boxes.dtype)
    return boxes * lb.scale + shift


def xywh_to_xyxy(boxes: torch.Tensor) -> torch.Tensor:
    """COCO ``[x, y, w, h]`` boxes ``(k, 4)`` to ``[x1, y1, x2, y2]``.

    Example:
        >>> import torch
        >>> xywh_to_xyxy(torch.tensor([[1.0, 2.0, 3.0, 4.0]])).tolist()
        [[1.0, 2.0, 4.0, 6.0]]
    """
    return torch.cat([boxes[:, :2], boxes[:, :2] + boxes[:, 2:]], dim=1)


def xyxy_to_xywh(boxes: torch.Tensor) -> torch.Tensor:
    """``[x1, y1, x2, y2]`` boxes ``(k, 4)`` to COCO ``[x, y, w, h]``.

    Example:
        >>> import torch
        >>> xyxy_to_xywh(torch.tensor([[1.0, 2.0, 4.0, 6.0]])).tolist()
        [[1.0, 2.0, 3.0, 4.0]]
    """
    return torch.cat([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]], dim=1)


def flip_boxes(boxes: torch.Tensor, width: int) -> torch.Tensor:
    """Mirror ``(k, 4)`` xyxy boxes horizontally in an image ``width`` pixels wide.

    Example:
        >>> import torch
        >>> flip_boxes(torch.tensor([[0.0, 1.0, 3.0, 2.0]]), 10).tolist()
        [[7.0, 1.0, 10.0, 2.0]]
    """
    return torch.stack([width - boxes[:, 2], boxes[:, 1], width - boxes[:, 0], boxes[:, 3]], dim=1)


def shift_boxes(
    boxes: torch.Tensor, dx: int, dy: int, size: int, min_size: float = 1.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Translate ``(k, 4)`` xyxy boxes by ``(dx, dy)``, clip them to the ``size``-square.

    Args:
        boxes: The boxes.
        dx: Shift right in pixels (negative: left).
        dy: Shift down in pixels.
        size: Side of the square image.
        min_size: Boxes whose clipped width or height is below this are dropped.

    Returns:
        ``(kept boxes, keep mask (k,) bool)``.

    Example:
        >>> import torch
        >>> b, keep = shift_boxes(torch.tensor([[0.0, 0.0, 4.0, 4.0], [8.0, 8.0, 10.0, 10.0]]),
        ...                       3, -1, 10)
        >>> b.tolist(), keep.tolist()
        ([[3.0, 0.0, 7.0, 3.0]], [True, False])
    """
    moved = boxes + torch.tensor([dx, dy, dx, dy], dtype=boxes.dtype)
    moved = moved.clamp(0, size)
    wh = moved[:, 2:] - moved[:, :2]  # (k, 2)
    keep = (wh >= min_size).all(dim=1)
    return moved[keep], keep


def shift_images(images: torch.Tensor, shifts: torch.Tensor, fill: int) -> torch.Tensor:
    """Translate each image of a batch by its own ``(dy, dx)``, filling the uncovered border.

    Args:
        images: ``(B, C, H, W)`` or ``(B, H, W)`` tensor.
        shifts: ``(B, 2)`` integer shifts ``(dy, dx)`` (down, right), ``|shift| < H, W``.
        fill: Value of the uncovered border.

    Returns:
        A new tensor of the same shape and dtype.

    Example:
        >>> import torch
        >>> x = torch.arange(4, dtype=torch.uint8).view(1, 2, 2)
        >>> shift_images(x, torch.tensor([[0, 1]]), fill=9)[0].tolist()
        [[9, 0], [9, 2]]
    """
    out = torch.full_like(images, fill)
    h, w = images.shape[-2:]
    for i, (dy, dx) in enumerate(shifts.tolist()):
        # destination rows/cols [max(0, d), size + min(0, d)) take source [max(0, -d), size - max(0, d))
        out[i, ..., max(0, dy) : h + min(0, dy), max(0, dx) : w + min(0, dx)] = images[
            i, ..., max(0, -dy) : h - max(0, dy), max(0, -dx) : w - max(0, dx)
        ]
    return out
