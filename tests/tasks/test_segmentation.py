"""Segmentation task: mIoU on a hand-made confusion, ignore index, a short training, ONNX export."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from slimkit.data.config import Augment
from slimkit.data.shapes import load_shapes
from slimkit.engine.distributed import DistInfo
from slimkit.models.segmentation import build_seg_lraspp
from slimkit.tasks.config import SegmentationTaskConfig
from slimkit.tasks.segmentation import (
    ConfusionMetric,
    SegmentationTask,
    build_segmentation,
    segmentation_scores,
)


def _logits(pred: torch.Tensor, classes: int) -> torch.Tensor:
    """One-hot logits ``(N, C, H, W)`` whose argmax is ``pred`` ``(N, H, W)``."""
    return torch.nn.functional.one_hot(pred, classes).permute(0, 3, 1, 2).float() * 5


def test_miou_on_hand_made_confusion() -> None:
    truth = torch.tensor([[[0, 0, 0, 0], [1, 1, 1, 1], [2, 2, 255, 255]]])  # (1, 3, 4)
    pred = torch.tensor([[[0, 0, 0, 1], [1, 1, 2, 2], [2, 0, 3, 3]]])
    metric = build_segmentation(SegmentationTaskConfig()).new_metric()
    metric.update(_logits(pred, 4), (None, truth))
    out = metric.compute()
    # labelled pixels only: class 0: TP 3, FP 1, FN 1 -> 3/5; class 1: TP 2, FP 1, FN 2 -> 2/5;
    # class 2: TP 1, FP 2, FN 1 -> 1/4; class 3: only predicted on ignored pixels -> absent
    assert out["miou"] == pytest.approx((3 / 5 + 2 / 5 + 1 / 4) / 3)
    assert out["pixel_acc"] == pytest.approx(6 / 10)
    # background everywhere: IoU_0 = 4/10, classes 1 and 2 get 0
    assert out["miou_background_only"] == pytest.approx(4 / 10 / 3)
    conf = torch.tensor([[3, 1, 0], [0, 2, 2], [0, 1, 1]])  # rows: truth, columns: prediction
    assert segmentation_scores(conf)["miou"] == pytest.approx((3 / 4 + 2 / 6 + 1 / 4) / 3)


def test_loss_ignores_pixels_and_ranks_combine(monkeypatch: pytest.MonkeyPatch) -> None:
    task = SegmentationTask()
    truth = torch.tensor([[[0, 1], [255, 255]]])
    logits = torch.randn(1, 3, 2, 2)
    kept = torch.nn.functional.cross_entropy(logits[0, :, 0].T, truth[0, 0])
    assert task.loss(logits, (None, truth)).item() == pytest.approx(kept.item(), rel=1e-6)
    assert task.loss(logits, (None, torch.full((1, 2, 2), 255))).item() == 0.0  # no NaN
    with pytest.raises(ValueError, match="label 7 in the masks, but the model predicts 3"):
        task.new_metric().update(logits, (None, torch.tensor([[[7, 0], [0, 0]]])))
    ranks = [ConfusionMetric(), ConfusionMetric(), ConfusionMetric()]
    ranks[0].update(_logits(torch.tensor([[[0, 1]]]), 2), (None, torch.tensor([[[0, 1]]])))
    ranks[1].update(_logits(torch.tensor([[[1, 0]]]), 2), (None, torch.tensor([[[0, 1]]])))

    def fake_gather(out: list[Any], obj: Any) -> None:  # rank 2 saw no batch
        out[:] = [(m.confusion.cpu(), float(m.loss_sum)) for m in ranks[:2]] + [None]

    monkeypatch.setattr(torch.distributed, "all_gather_object", fake_gather)
    assert ranks[0].compute()["miou"] == 1.0  # rank 0 alone: all right
    # both ranks: each class 1 of 3 pixel-votes right -> IoU 1/3 per class
    assert ranks[0].compute(DistInfo(rank=0, world_size=3))["miou"] == pytest.approx(1 / 3)
    assert ranks[2].compute()["miou"] == 0.0


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[torch.nn.Module, Any, list[float]]:
    """LR-ASPP on a ResNet-20 trained 40 steps on 64-px shapes (a few seconds on one thread)."""
    torch.manual_seed(0)
    root = tmp_path_factory.mktemp("shapes")
    splits = load_shapes(root=str(root), task="segmentation", n_train=64, n_val=16, image_size=64)
    model = build_seg_lraspp(
        num_classes=splits.num_classes, backbone="resnet20", stem_stride=2, inter_channels=32
    )
    task = SegmentationTask()
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=1e-4)
    loader = splits.train.loader(
        16, shuffle=True, augment=Augment(crop_padding=2), mean=splits.mean, std=splits.std
    )
    losses: list[float] = []
    model.train()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small convs: a second thread only adds barriers on a busy machine
    try:
        for epoch in range(10):
            loader.set_epoch(epoch)
            for batch in loader:
                loss, _ = task.train_step(model, task.to_device(batch, torch.device("cpu")))
                opt.zero_grad()
                loss.backward()
                opt.step()
                losses.append(loss.item())
    finally:
        torch.set_num_threads(threads)
    return model, splits, losses


def test_training_beats_background_baseline(trained: Any) -> None:
    model, splits, losses = trained
    assert sum(losses[-5:]) < 0.5 * sum(losses[:5])
    task = SegmentationTask()
    metric = task.new_metric()
    model.eval()
    with torch.inference_mode():
        for batch in splits.test.loader(8, shuffle=False, augment=None, mean=splits.mean,
                                        std=splits.std):  # fmt: skip
            out = task.forward(model, batch)
            assert out.shape == (len(batch[1]), 4, 64, 64)
            metric.update(out, batch)
    scores = metric.compute()
    assert scores["miou"] > scores["miou_background_only"] + 0.05, scores


def test_segmentation_model_exports_to_onnx(trained: Any, tmp_path: Path) -> None:
    from slimkit.measure.onnx_export import export_onnx

    model, splits, _ = trained
    assert SegmentationTask().exportable() is None
    result = export_onnx(model, tmp_path / "seg.onnx", splits.input_size)  # batch 1 and 2
    assert result.max_abs_diff < 1e-4  # measured: 3e-6 on logits of magnitude ~5
