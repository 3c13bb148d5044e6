"""COCO-format reader: letterbox geometry, flip/shift moving boxes and masks, loaders, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from slimkit.data.coco import CocoLoader, load_coco_splits, read_coco_split
from slimkit.data.config import Augment
from slimkit.data.registry import load_dataset
from slimkit.data.shapes import load_shapes, write_shapes

COLOUR = (200, 30, 40)


def _write_tiny(root: Path, **edits: object) -> Path:
    """One 200x100 (w x h) image with a red box [10, 20, 50, 40] (xywh), class 1 in its mask.

    ``edits`` override parts of the annotation file (``bbox``, ``category_id``) or of the files
    (``mask_size``; ``no_image``).
    """
    for split in ("train", "val"):
        (root / "images" / split).mkdir(parents=True, exist_ok=True)
        (root / "masks" / split).mkdir(parents=True, exist_ok=True)
        img = np.full((100, 200, 3), 90, dtype=np.uint8)
        img[20:60, 10:60] = COLOUR
        if not edits.get("no_image"):
            Image.fromarray(img).save(root / "images" / split / "a.png")
        mh, mw = edits.get("mask_size", (100, 200))  # type: ignore[misc]
        mask = np.zeros((mh, mw), dtype=np.uint8)
        mask[20:60, 10:60] = 1
        Image.fromarray(mask).save(root / "masks" / split / "a.png")
        ann = {
            "id": 11,
            "image_id": 5,
            "category_id": edits.get("category_id", 3),
            "bbox": edits.get("bbox", [10, 20, 50, 40]),
            "iscrowd": 0,
        }
        doc = {
            "images": [{"id": 5, "file_name": "a.png", "width": 200, "height": 100}],
            "annotations": [ann],
            "categories": [{"id": 3, "name": "thing"}, {"id": 7, "name": "other"}],
        }
        (root / "annotations").mkdir(exist_ok=True)
        (root / "annotations" / f"instances_{split}.json").write_text(json.dumps(doc))
    return root


def _mask_box(mask: torch.Tensor, cls: int) -> list[float]:
    rows, cols = torch.nonzero(mask == cls, as_tuple=True)
    return [float(cols.min()), float(rows.min()), float(cols.max() + 1), float(rows.max() + 1)]


def test_letterbox_exact_coordinates(tmp_path: Path) -> None:
    ds = read_coco_split(_write_tiny(tmp_path), "train", image_size=100, task="segmentation")
    # 200x100 -> scale 0.5 -> 100x50 pasted at y = 25: [10, 20, 60, 60] xyxy -> [5, 35, 30, 55]
    assert ds.boxes[0].tolist() == [[5.0, 35.0, 30.0, 55.0]]
    assert ds.labels[0].tolist() == [0] and ds.classes == ["thing", "other"]
    assert ds.category_ids == [3, 7] and ds.image_ids.tolist() == [5]
    mask = ds.masks[0]
    assert _mask_box(mask, 1) == [5.0, 35.0, 30.0, 55.0]
    assert (mask[:25] == 255).all() and (mask[75:] == 255).all() and (mask[25:75] != 255).all()
    assert (ds.x[0, :, :25] == 114).all()  # grey letterbox border
    assert ds.x[0, :, 45, 17].tolist() == list(COLOUR)
    assert ds.to_original(0, ds.boxes[0]).tolist() == [[10.0, 20.0, 60.0, 60.0]]


@pytest.mark.parametrize("augment", [Augment(crop_padding=0, hflip=True), Augment(crop_padding=7)])
def test_flip_and_shift_move_boxes_masks_and_pixels(tmp_path: Path, augment: Augment) -> None:
    ds = read_coco_split(_write_tiny(tmp_path), "train", image_size=100, task="segmentation")
    many, boxes_only = ds.subset([0] * 16), ds.subset([0] * 16)
    boxes_only.task = "detection"
    seg = CocoLoader(many, 16, shuffle=False, augment=augment, mean=[0.0], std=[1 / 255])
    det = CocoLoader(boxes_only, 16, shuffle=False, augment=augment, mean=[0.0], std=[1 / 255])
    (x, masks), (_, targets) = next(iter(seg)), next(iter(det))
    seen = set()
    for i in range(16):
        box = targets[i]["boxes"][0].tolist()
        assert box == _mask_box(masks[i], 1)  # box and mask moved together
        cx, cy = int((box[0] + box[2]) / 2), int((box[1] + box[3]) / 2)
        assert x[i, :, cy, cx].round().tolist() == list(COLOUR)  # and so did the pixels
        seen.add(tuple(box))
    assert len(seen) > 1  # some samples were augmented
    if augment.crop_padding == 0:  # flip: x -> 100 - x
        assert seen == {(5.0, 35.0, 30.0, 55.0), (70.0, 35.0, 95.0, 55.0)}


def test_shift_clips_and_drops_boxes() -> None:
    from slimkit.data.boxes import shift_boxes, shift_images

    boxes, keep = shift_boxes(torch.tensor([[0.0, 0.0, 4.0, 4.0], [2.0, 2.0, 3.0, 3.0]]), -3, 0, 8)
    assert boxes.tolist() == [[0.0, 0.0, 1.0, 4.0]] and keep.tolist() == [True, False]
    img = torch.arange(9, dtype=torch.uint8).view(1, 1, 3, 3)
    assert shift_images(img, torch.tensor([[1, -1]]), 0)[0, 0].tolist() == [
        [0, 0, 0],
        [1, 2, 0],
        [4, 5, 0],
    ]


@pytest.fixture(scope="module")
def shapes_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_shapes(tmp_path_factory.mktemp("shapes"), n_train=10, n_val=4, image_size=48)


def test_loader_shapes_determinism_and_shards(shapes_root: Path) -> None:
    s = load_coco_splits("shapes", shapes_root, image_size=48)
    assert s.input_size == (3, 48, 48) and len(s.train) == 10 and len(s.test) == 4
    opts = dict(shuffle=True, augment=Augment(crop_padding=2), mean=s.mean, std=s.std, seed=3)
    loader = s.train.loader(4, **opts)
    assert len(loader) == 3 and loader.batch_size == 4 and loader.dataset is s.train
    x, targets = next(iter(loader))
    assert x.shape == (4, 3, 48, 48) and x.dtype == torch.float32
    assert x.is_contiguous(memory_format=torch.channels_last)
    assert targets[0]["boxes"].dtype == torch.float32 and targets[0]["labels"].dtype == torch.int64

    def ids(ld: CocoLoader, epoch: int) -> list[int]:
        ld.set_epoch(epoch)
        return [t["image_id"] for _, ts in ld for t in ts]

    again = s.train.loader(4, **opts)
    assert ids(loader, 1) == ids(again, 1) and ids(loader, 1) != ids(loader, 2)
    loader.set_epoch(1)
    again.set_epoch(1)
    for a, b in zip(iter(loader), iter(again), strict=True):  # same epoch: same pixels, boxes
        assert torch.equal(a[0], b[0])
        assert all(torch.equal(p["boxes"], q["boxes"]) for p, q in zip(a[1], b[1], strict=True))
    whole = ids(s.train.loader(4, **opts), 0)
    ranks = [ids(s.train.loader(2, **opts, rank=r, world_size=2), 0) for r in (0, 1)]
    assert sorted(ranks[0] + ranks[1]) == sorted(whole)
    assert ranks[0][:2] + ranks[1][:2] == whole[:4]  # rank r takes its slice of global batch 1


def test_segmentation_targets_and_registry(shapes_root: Path) -> None:
    s = load_shapes(root=str(shapes_root), task="segmentation", n_train=10, n_val=4, image_size=48)
    x, masks = next(iter(s.test.loader(4, shuffle=False, augment=None, mean=s.mean, std=s.std)))
    assert masks.shape == (4, 48, 48) and masks.dtype == torch.int64
    assert s.num_classes == 4 and set(masks.unique().tolist()) <= {0, 1, 2, 3, 255}
    via_registry = load_dataset("shapes", root=str(shapes_root), n_train=10, n_val=4, image_size=48)
    assert via_registry.num_classes == 3 and len(via_registry.train) == 10
    with pytest.raises(ValueError, match="holds shapes written with"):
        load_shapes(root=str(shapes_root), n_train=11, n_val=4, image_size=48)


def _one_line_error(root: Path, exc: type[Exception], match: str, **kw: object) -> None:
    with pytest.raises(exc, match=match) as info:
        load_coco_splits("tiny", root, image_size=64, **kw)  # type: ignore[arg-type]
    assert "\n" not in str(info.value)


def test_bad_inputs_one_line(tmp_path: Path) -> None:
    ok = _write_tiny(tmp_path / "ok")
    _one_line_error(ok, FileNotFoundError, r"annotation file .*instances_test\.json not found",
                    splits=("train", "test"))  # fmt: skip
    _one_line_error(_write_tiny(tmp_path / "out", bbox=[180, 20, 50, 40]), ValueError,
                    r"instances_train\.json: annotation id 11 .*a\.png.*lies outside the image")  # fmt: skip
    _one_line_error(_write_tiny(tmp_path / "neg", bbox=[10, 20, 0, 40]), ValueError,
                    r"annotation id 11 .*zero or negative size")  # fmt: skip
    _one_line_error(_write_tiny(tmp_path / "cat", category_id=99), ValueError,
                    r"annotation id 11 .*category_id 99 is not in 'categories' \(ids 3, 7\)")  # fmt: skip
    _one_line_error(_write_tiny(tmp_path / "img", no_image=True), FileNotFoundError,
                    r"images/train/a\.png: image file not found \(image id 5")  # fmt: skip
    _one_line_error(_write_tiny(tmp_path / "mask", mask_size=(50, 200)), ValueError,
                    r"masks/train/a\.png: mask is 200x50, expected 200x100", task="segmentation")  # fmt: skip
    (ok / "annotations" / "instances_val.json").write_text("{not json")
    _one_line_error(ok, ValueError, r"instances_val\.json: not valid JSON")


def test_registry_roots(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="data.root: the coco dataset needs root=DIR"):
        load_dataset("coco")
    with pytest.raises(ValueError, match="cannot be downloaded"):
        load_dataset("coco", root=str(tmp_path), download=True)
    monkeypatch.setenv("SLIMKIT_DATA", str(tmp_path))
    with pytest.raises(FileNotFoundError, match=r"coco128 folder .*coco128 not found"):
        load_dataset("coco128")
    _write_tiny(tmp_path / "coco128")
    s = load_dataset("coco128", image_size=64, task="segmentation")
    assert s.num_classes == 21 and s.train.seg_classes[15] == "person"
    with pytest.raises(ValueError, match="dataset.task: expected one of detection"):
        load_dataset("coco128", task="keypoints")
