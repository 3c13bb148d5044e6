"""Shared fixtures for the report tests: a valid report and synthetic metrics."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest


def make_report() -> dict[str, Any]:
    """A report that satisfies the contract, with a few method-specific extras."""
    return {
        "slimkit_version": "0.1.0",
        "recipe": {"name": "resnet20-slimming", "model": {"name": "resnet20"}, "stages": []},
        "dataset": {"name": "digits", "train_size": 1437, "test_size": 360},
        "initial": {"params": 272_474, "macs": 40_813_184},
        "final": {
            "params": 120_000,
            "macs": 18_000_000,
            "top1": 0.912,
            "metrics": {"top1": 0.912, "top5": 0.99, "loss": 0.31},
            "headline": {"name": "top1", "value": 0.912},
            "latency_ms": {"torch_bs1": 1.234, "ort_bs1": 0.5, "ort_bs64": 20.5},
        },
        "stages": [
            {"kind": "train", "seconds": 12.5, "top1": 0.88, "epochs": 3, "train_loss": 0.41},
            {"kind": "prune", "seconds": 0.4, "channels_removed": 152},
            {"kind": "train", "seconds": 8.0, "top1": 0.912, "epochs": 2, "train_loss": 0.3},
            {"kind": "export", "seconds": 1.1, "onnx": "model.onnx", "max_abs_diff": 2.1e-6},
        ],
        "artifacts": {"model": "model.pt", "onnx": "model.onnx", "report_md": "report.md"},
        "created": "2025-01-01T12:00:00+00:00",
        "total_seconds": 22.04,
        "host": {"threads": 2, "torch": "2.14.1", "device": "cpu"},
    }


def epoch_line(stage: int, epoch: int, step: int, **fields: Any) -> dict[str, Any]:
    base = {"event": "epoch", "stage": stage, "stage_kind": "train", "epoch": epoch, "step": step}
    base.update(
        {"train_loss": 1.0 / epoch, "train_top1": 0.5, "test_loss": 1.2 / epoch, "test_top1": 0.6}
    )
    base.update(fields)
    return base


def step_line(stage: int, epoch: int, step: int, loss: float) -> dict[str, Any]:
    return {
        "event": "step",
        "stage": stage,
        "stage_kind": "train",
        "epoch": epoch,
        "step": step,
        "loss": loss,
        "lr": 0.1,
    }


def two_stage_metrics() -> list[dict[str, Any]]:
    """Stage 0: 3 epochs of 10 steps; stage 1: 2 epochs of 10 steps; steps logged every 5.

    Steps count within a stage (restart at stage 1). Stage 0 epoch 2 is logged twice, as
    after a resume: the second copy (test_top1 0.75) must win.
    """
    lines: list[dict[str, Any]] = []
    for stage, n_epochs in ((0, 3), (1, 2)):
        for e in range(1, n_epochs + 1):
            for s in (10 * (e - 1) + 5, 10 * e):
                lines.append(step_line(stage, e, s, loss=2.0 / (s + stage)))
            lines.append(epoch_line(stage, e, 10 * e, test_top1=0.6 + 0.05 * e + 0.1 * stage))
    lines.append(epoch_line(0, 2, 20, test_top1=0.75))  # resumed run re-logs stage 0 epoch 2
    return lines


def write_jsonl(path: Path, records: list[dict[str, Any]], tail: str = "") -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records) + tail, encoding="utf-8")
    return path


# Fixtures only (no `from conftest import ...` in tests: conftest module names clash
# across test folders).


@pytest.fixture
def report() -> dict[str, Any]:
    """A fresh valid report."""
    return make_report()


@pytest.fixture
def metrics_two_stages() -> list[dict[str, Any]]:
    """Synthetic metrics records of two train stages, with a resumed duplicate."""
    return two_stage_metrics()


@pytest.fixture
def jsonl() -> Callable[..., Path]:
    """Writer of metrics.jsonl files: ``jsonl(path, records, tail="")``."""
    return write_jsonl


@pytest.fixture
def lines() -> SimpleNamespace:
    """Record builders: ``lines.epoch(stage, epoch, step, **fields)``, ``lines.step(...)``."""
    return SimpleNamespace(epoch=epoch_line, step=step_line)
