"""Recipe schema: strict keys with suggestions, overrides, one-line CLI errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from slimkit.config import ConfigError
from slimkit.recipes import apply_override, load_recipe, recipe_from_dict
from tests.helpers import REPO, run_cli

BASE = {"model": {"name": "lenet5"}, "stages": [{"kind": "train", "epochs": 2}, {"kind": "export"}]}


def test_shipped_recipes_validate() -> None:
    recipes = sorted((REPO / "recipes").glob("*.yaml"))
    assert recipes, "no shipped recipes"
    for path in recipes:
        load_recipe(path)


def test_defaults_filled_and_round_trip(tmp_path: Path) -> None:
    recipe = recipe_from_dict(BASE)
    assert recipe.data.name == "digits"
    assert recipe.stages[0].optimizer.name == "sgd"
    resolved = recipe.to_dict()
    assert resolved["stages"][0]["epochs"] == 2 and resolved["stages"][1]["opset"] == 17
    again = recipe_from_dict(resolved)
    assert again.to_dict() == resolved


@pytest.mark.parametrize(
    ("raw", "needle"),
    [
        ({**BASE, "modle": {"name": "x"}}, "unknown key 'modle'; did you mean 'model'?"),
        (
            {**BASE, "stages": [{"kind": "train", "epoch": 2}]},
            "stages[0]: unknown key 'epoch'; did you mean 'epochs'?",
        ),
        (
            {
                **BASE,
                "stages": [
                    {"kind": "train", "epochs": 1, "optimizer": {"lr": 0.1, "momentun": 0.9}}
                ],
            },
            "stages[0].optimizer: unknown key 'momentun'; did you mean 'momentum'?",
        ),
        ({**BASE, "stages": [{"kind": "trian", "epochs": 1}]}, "did you mean 'train'?"),
        ({**BASE, "stages": [{"kind": "train", "epochs": 0}]}, "stages[0].epochs"),
        (
            {**BASE, "stages": [{"kind": "train", "epochs": 1, "terms": [{"name": "nope"}]}]},
            "terms[0].name",
        ),
        ({**BASE, "data": {"batch_size": "big"}}, "data.batch_size"),
        ({**BASE, "stages": []}, "stages"),
    ],
)
def test_bad_recipes_name_the_field(raw: dict, needle: str) -> None:
    with pytest.raises(ConfigError) as info:
        recipe_from_dict(raw)
    message = str(info.value)
    assert needle in message
    assert "\n" not in message


def test_overrides() -> None:
    recipe = recipe_from_dict(
        {**BASE, "stages": [{"kind": "train", "epochs": 5}, {"kind": "train", "epochs": 7}]},
        overrides=["train.epochs=1", "stages.1.optimizer.lr=0.05", "data.batch_size=32", "seed=3"],
    )
    assert [s.epochs for s in recipe.stages] == [1, 1]
    assert recipe.stages[1].optimizer.lr == 0.05 and recipe.stages[0].optimizer.lr == 0.1
    assert recipe.data.batch_size == 32 and recipe.seed == 3


@pytest.mark.parametrize("item", ["nonsense", "trian.epochs=1", "stages.9.epochs=1", "train=3"])
def test_bad_overrides(item: str) -> None:
    with pytest.raises(ConfigError):
        apply_override(dict(BASE, stages=[{"kind": "train", "epochs": 1}]), item)


def test_cli_validate_misspelled_epochs(tmp_path: Path) -> None:
    good = yaml.safe_load((REPO / "recipes" / "quickstart.yaml").read_text())
    good["stages"][0]["epoch"] = good["stages"][0].pop("epochs")
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(good))
    proc = run_cli("validate", str(bad))
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "'epoch'" in lines[0] and "did you mean 'epochs'" in lines[0]
    assert "Traceback" not in proc.stderr
    ok = run_cli("validate", str(REPO / "recipes" / "quickstart.yaml"))
    assert ok.returncode == 0, ok.stderr
    assert "ok" in ok.stdout


def test_invalid_yaml_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("model: {name: lenet5\nstages: [")
    proc = run_cli("validate", str(path))
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1 and "invalid YAML" in proc.stderr
    missing = run_cli("validate", str(tmp_path / "nope.yaml"))
    assert missing.returncode == 2 and "not found" in missing.stderr
