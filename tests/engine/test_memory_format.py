"""The channels_last guard: models with a oneDNN-faulting layer run contiguous, and say so."""

from __future__ import annotations

from pathlib import Path

from torch import nn

from slimkit.engine.memory_format import channels_last_hazard
from slimkit.models import build_model
from slimkit.pipeline import run_recipe
from slimkit.recipes import recipe_from_dict


def test_hazard_found_only_for_small_strided_1x1() -> None:
    assert channels_last_hazard(build_model("resnet8_tiny")) is not None  # 4 -> 8 shortcut
    assert channels_last_hazard(build_model("resnet20")) is None  # option A: no 1x1 conv
    assert channels_last_hazard(nn.Conv2d(7, 16, 1, stride=2)) is not None
    assert channels_last_hazard(nn.Conv2d(4, 16, 1, stride=1)) is None
    assert channels_last_hazard(nn.Conv2d(4, 16, 3, stride=2)) is None


def test_run_of_a_hazardous_model_is_contiguous_and_says_why(tmp_path: Path) -> None:
    lines: list[str] = []
    recipe = recipe_from_dict(
        {
            "model": {"name": "resnet8_tiny"},
            "data": {"name": "digits", "subset_per_class": 8, "test_subset_per_class": 2},
            "runtime": {"quiet": True, "threads": 2, "channels_last": True},
            "stages": [{"kind": "train", "epochs": 1}],
            "name": "guard",
        }
    )
    recipe.data.batch_size = 16
    report = run_recipe(recipe, tmp_path / "run", echo=lines.append)
    assert report["stages"][0]["epochs"] == 1
    assert sum("runtime.channels_last: off for this model" in line for line in lines) == 1
