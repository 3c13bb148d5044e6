"""Every zoo family (and the torchvision/timm adapters) exports to ONNX with parity <= 1e-4."""

from __future__ import annotations

from pathlib import Path

import pytest

from slimkit.measure import export_onnx
from slimkit.models import build_model
from tests.models.test_pruning_export import TINY

FAMILIES = [*TINY, "resnet20", "tv:resnet18", "tv:mobilenet_v2", "timm:resnet18"]


@pytest.mark.parametrize("name", FAMILIES)
def test_family_exports_with_parity(name: str, tmp_path: Path) -> None:
    model = build_model(name, num_classes=10)
    result = export_onnx(model, tmp_path / "m.onnx", (3, 32, 32))
    assert Path(result.path).stat().st_size > 0
    assert result.max_abs_diff <= 1e-4, f"{name}: max abs diff {result.max_abs_diff}"
