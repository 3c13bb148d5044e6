"""Detection task: COCO mAP on hand-made cases, a short FCOS training on shapes, ONNX export."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from slimkit.data.config import Augment
from slimkit.data.shapes import load_shapes
from slimkit.engine.distributed import DistInfo
from slimkit.models.detection import build_fcos
from slimkit.tasks.config import DetectionTaskConfig
from slimkit.tasks.detection import CocoMapMetric, DetectionTask, build_detection

IMAGES = torch.zeros(2, 3, 64, 64)
GT = [
    {"boxes": torch.tensor([[4.0, 4.0, 20.0, 30.0], [30.0, 30.0, 60.0, 50.0]]),
     "labels": torch.tensor([0, 2]), "image_id": 1},
    {"boxes": torch.tensor([[10.0, 12.0, 40.0, 44.0]]), "labels": torch.tensor([1]),
     "image_id": 2},
]  # fmt: skip


def _pred(boxes: torch.Tensor, labels: torch.Tensor, score: float = 0.9) -> dict[str, Any]:
    return {"boxes": boxes, "labels": labels, "scores": torch.full((len(labels),), score)}


def _map(outputs: list[dict[str, Any]]) -> dict[str, float]:
    metric = build_detection(DetectionTaskConfig()).new_metric()
    metric.update(outputs, (IMAGES, GT))
    return metric.compute()


def test_map_perfect_empty_and_partial() -> None:
    assert _map([_pred(t["boxes"], t["labels"]) for t in GT]) == {
        "map": 1.0,
        "map50": 1.0,
        "map75": 1.0,
    }
    empty = _pred(torch.zeros(0, 4), torch.zeros(0, dtype=torch.int64))
    assert _map([empty, empty]) == {"map": 0.0, "map50": 0.0, "map75": 0.0}
    wrong_class = [_pred(t["boxes"], (t["labels"] + 1) % 3) for t in GT]
    assert _map(wrong_class)["map"] == 0.0
    # image 1 detected, image 2 missed: classes 0 and 2 have AP 1, class 1 AP 0 -> 2/3
    assert _map([_pred(GT[0]["boxes"], GT[0]["labels"]), empty])["map50"] == pytest.approx(2 / 3)
    # boxes shifted by 2 px: IoU 0.677 (class 0), 0.724 (class 2), 0.778 (class 1)
    scores = _map([_pred(t["boxes"] + 2, t["labels"]) for t in GT])
    assert scores["map50"] == 1.0 and scores["map75"] == pytest.approx(1 / 3)
    assert 1 / 3 < scores["map"] < 1.0


def test_map_gathers_all_ranks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Under DDP each rank holds part of the images; compute() scores their union."""
    ranks = [CocoMapMetric(), CocoMapMetric()]
    for r, metric in enumerate(ranks):  # rank r saw image r; rank 1 predicted the wrong classes
        labels = GT[r]["labels"] if r == 0 else (GT[r]["labels"] + 1) % 3
        metric.update([_pred(GT[r]["boxes"], labels)], (IMAGES[:1], [GT[r]]))

    def fake_gather(out: list[Any], obj: Any) -> None:
        out[:] = [m.records for m in ranks]

    monkeypatch.setattr(torch.distributed, "all_gather_object", fake_gather)
    combined = ranks[0].compute(DistInfo(rank=0, world_size=2))["map"]
    alone = ranks[0].compute()["map"]  # without the gather: only rank 0's perfect image
    assert alone == 1.0 and len(ranks[0].records) == 1
    assert combined < 0.9  # rank 1's misses count: the gather happened


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[torch.nn.Module, Any, list[float]]:
    """A small FCOS trained 40 steps on 64-px shapes (about 7 s on one thread)."""
    torch.manual_seed(0)
    root = tmp_path_factory.mktemp("shapes")
    splits = load_shapes(root=str(root), n_train=64, n_val=16, image_size=64)
    model = build_fcos(
        num_classes=splits.num_classes,
        backbone="resnet8_tiny",
        backbone_kwargs={"widths": [16, 32, 64]},
        stem_stride=2,
        fpn_channels=32,
        head_convs=2,
        head_groups=8,
    )
    task = DetectionTask()
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=1e-4)
    loader = splits.train.loader(
        16, shuffle=True, augment=Augment(crop_padding=2), mean=splits.mean, std=splits.std
    )
    losses: list[float] = []
    model.train()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny convs: a second thread only adds barriers on a busy machine
    try:
        _train(model, task, opt, loader, losses)
    finally:
        torch.set_num_threads(threads)
    return model, splits, losses


def _train(model: Any, task: DetectionTask, opt: Any, loader: Any, losses: list[float]) -> None:
    for epoch in range(10):
        loader.set_epoch(epoch)
        for batch in loader:
            loss, out = task.train_step(model, task.to_device(batch, torch.device("cpu")))
            assert set(out) == {"classification", "bbox_regression", "bbox_ctrness"}
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())


def test_training_loss_falls_and_eval_returns_boxes(trained: Any) -> None:
    model, splits, losses = trained
    first, last = np.mean(losses[:5]), np.mean(losses[-5:])
    assert last < 0.75 * first, (first, last)  # measured: 2.33 -> 1.44
    task = DetectionTask()
    model.eval()
    metric = task.new_metric()
    with torch.inference_mode():
        for batch in splits.test.loader(8, shuffle=False, augment=None, mean=splits.mean,
                                        std=splits.std):  # fmt: skip
            out = task.forward(model, batch)
            assert len(out) == task.batch_len(batch)
            assert out[0]["boxes"].shape[1] == 4 and len(out[0]["scores"]) > 0
            metric.update(out, batch)
    scores = metric.compute()
    assert set(scores) == {"map", "map50", "map75"} and scores["map50"] > 0.05  # measured 0.23


def test_detector_exports_to_onnx(trained: Any, tmp_path: Path) -> None:
    """torchvision's FCOS exports, post-processing included, at a fixed batch size."""
    from slimkit.measure.onnx_export import export_onnx

    model, splits, _ = trained
    assert DetectionTask().exportable() is None and DetectionTask.dynamic_batch is False
    result = export_onnx(
        model, tmp_path / "fcos.onnx", splits.input_size, dynamic_batch=False, check_batch=1
    )
    assert result.max_abs_diff < 1e-4  # measured: 7.6e-6 (boxes in pixels, scores, labels)
