"""Third-party plugins: entry points of group ``slimkit.plugins`` add terms, models, datasets.

The plugin is a real distribution on ``sys.path`` (a ``*.dist-info`` directory with
``entry_points.txt``), discovered by ``importlib.metadata`` in a fresh interpreter: no mock.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.helpers import REPO

PLUGIN_INIT = '''
"""A demo plugin: a light config here, the heavy parts in .heavy (imported on first use)."""
from slimkit.engine.config import TermConfig
from slimkit.registry import MODELS, TERMS


class DemoTermConfig(TermConfig):
    strength: float = 1.0


def register():
    TERMS.declare("demo_term", config=DemoTermConfig, build="slimkit_demo_plugin.heavy:build")
    MODELS.declare("demo_net", "slimkit_demo_plugin.heavy:demo_net", description="a demo model")
'''

PLUGIN_MORE = '''
"""Importing this module registers a dataset (an entry point may be a module)."""
from slimkit.registry import DATASETS

DATASETS.declare("demo_data", "slimkit_demo_plugin.heavy:demo_data", description="demo data")
'''

PLUGIN_HEAVY = """
def build(cfg, model):
    return ("built", cfg.strength)


def demo_net(num_classes=10, in_channels=3):
    return {"num_classes": num_classes, "in_channels": in_channels}


def demo_data(*, root=None, download=False):
    raise ValueError("demo_data: nothing to load")
"""

ENTRY_POINTS = """\
[slimkit.plugins]
demo = slimkit_demo_plugin:register
demo_more = slimkit_demo_plugin.more
broken = slimkit_demo_plugin_missing:register
"""

CHECK = """
import sys, warnings
warnings.simplefilter("always")
with warnings.catch_warnings(record=True) as caught:
    from slimkit.recipes import recipe_from_dict
    from slimkit.registry import DATASETS, MODELS, TERMS
    recipe = recipe_from_dict({
        "model": {"name": "demo_net"},
        "stages": [{"kind": "train", "epochs": 1,
                    "terms": [{"name": "demo_term", "strength": 2.5}]}],
    })
assert type(recipe.stages[0].terms[0]).__name__ == "DemoTermConfig"
assert recipe.stages[0].terms[0].strength == 2.5
assert "slimkit_demo_plugin.heavy" not in sys.modules, "the heavy part was imported eagerly"
assert "torch" not in sys.modules
assert any("'broken'" in str(w.message) for w in caught), [str(w.message) for w in caught]
assert "demo_data" in DATASETS and "demo_net" in MODELS.names()
from slimkit.models import build_model, list_models
from slimkit.data import list_datasets
assert list_models()["demo_net"] == "a demo model"
assert list_datasets()["demo_data"] == "demo data"
assert TERMS.get("demo_term").build(recipe.stages[0].terms[0], None) == ("built", 2.5)
assert build_model("demo_net", num_classes=4) == {"num_classes": 4, "in_channels": 3}
print("plugin ok")
"""


def _write_plugin(root: Path) -> None:
    pkg = root / "slimkit_demo_plugin"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text(textwrap.dedent(PLUGIN_INIT))
    (pkg / "more.py").write_text(textwrap.dedent(PLUGIN_MORE))
    (pkg / "heavy.py").write_text(textwrap.dedent(PLUGIN_HEAVY))
    dist = root / "slimkit_demo_plugin-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: slimkit-demo-plugin\nVersion: 0.1\n"
    )
    (dist / "entry_points.txt").write_text(ENTRY_POINTS)


def test_entry_point_plugin_registers_term_model_and_dataset(tmp_path: Path) -> None:
    _write_plugin(tmp_path)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path), str(REPO / "src")]))
    result = subprocess.run(
        [sys.executable, "-c", CHECK],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "plugin ok" in result.stdout


def test_recipe_naming_a_plugin_term_fails_cleanly_without_the_plugin() -> None:
    from slimkit.config import ConfigError
    from slimkit.recipes import recipe_from_dict

    raw = {"model": {"name": "lenet5"}, "stages": [{"kind": "train", "epochs": 1}]}
    raw["stages"][0]["terms"] = [{"name": "demo_term"}]
    try:
        recipe_from_dict(raw)
    except ConfigError as exc:
        assert "terms[0].name: unknown training term 'demo_term'" in str(exc)
    else:
        raise AssertionError("expected a ConfigError")
