"""Artifacts: builder + edits + weights, loaded with weights_only; CLI measure and export."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from torch import nn

from slimkit.artifacts import (
    ArtifactError,
    SlimModel,
    load_artifact,
    register_edit,
    save_artifact,
)
from tests.helpers import run_cli


@register_edit("test_widen_head")
def _widen_head(module: nn.Module, classes: int) -> nn.Module:
    module.fc = nn.Linear(module.fc.in_features, classes)
    return module


def test_round_trip_replays_edits(tmp_path: Path) -> None:
    handle = SlimModel.build("resnet8_tiny", num_classes=10, input_size=(3, 32, 32))
    handle.apply_edit("test_widen_head", classes=7)
    with torch.no_grad():
        for p in handle.module.parameters():
            p.add_(torch.randn_like(p))
    path = tmp_path / "m.slim.pt"
    save_artifact(handle, path)
    loaded = load_artifact(path)
    assert loaded.edits == [{"kind": "test_widen_head", "params": {"classes": 7}}]
    x = torch.randn(2, 3, 32, 32)
    handle.module.eval()
    loaded.module.eval()
    assert torch.equal(handle.module(x), loaded.module(x))
    assert loaded.module(x).shape == (2, 7)


def test_refuses_pickled_modules_and_mismatched_weights(tmp_path: Path) -> None:
    pickled = tmp_path / "evil.pt"
    torch.save(nn.Linear(2, 2), pickled)  # a whole pickled module: must not be unpickled
    with pytest.raises(ArtifactError, match="not a slimkit artifact"):
        load_artifact(pickled)
    handle = SlimModel.build("lenet5", num_classes=10, input_size=(3, 32, 32))
    path = tmp_path / "m.slim.pt"
    save_artifact(handle, path)
    data = torch.load(path, weights_only=True)
    data["state_dict"]["fc3.weight"] = torch.zeros(3, 3)
    torch.save(data, path)
    with pytest.raises(ArtifactError, match="do not fit") as info:
        load_artifact(path)
    assert "\n" not in str(info.value)
    with pytest.raises(ArtifactError, match="not found"):
        load_artifact(tmp_path / "missing.pt")


def test_cli_measure_and_export(tmp_path: Path) -> None:
    handle = SlimModel.build("resnet8_tiny", num_classes=10, input_size=(3, 32, 32))
    path = tmp_path / "m.slim.pt"
    save_artifact(handle, path)
    proc = run_cli("measure", str(path), "--json", "--repeats", "3", "--threads", "1")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["params"] == sum(p.numel() for p in handle.module.parameters())
    assert set(result["latency_ms"]) == {"torch_bs1", "torch_bs32", "ort_bs1", "ort_bs32"}
    onnx = tmp_path / "m.onnx"
    proc = run_cli("export", str(path), "--onnx", str(onnx))
    assert proc.returncode == 0, proc.stderr
    assert onnx.stat().st_size > 0 and "max abs diff" in proc.stdout
    bad = run_cli("measure", str(tmp_path / "nope.slim.pt"))
    assert bad.returncode == 2 and bad.stderr.startswith("slimkit: error: artifact not found")
