"""No import cycles in src/slimkit, and validating a recipe imports no torch."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from slimkit.devtools.imports import build_graph, find_cycles, main, module_level_cycles
from tests.helpers import REPO

HEAVY = ("torch", "torchvision", "timm", "torch_pruning", "numpy", "matplotlib", "onnxruntime")


def _python(code: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, env=env, timeout=120
    )


def test_no_module_level_cycle_in_slimkit(capsys: pytest.CaptureFixture[str]) -> None:
    cycles = module_level_cycles(build_graph())
    assert cycles == [], "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)
    assert main([]) == 0
    assert "module-level cycles: 0" in capsys.readouterr().out


def _package(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "pkg"
    for name, text in {"__init__.py": "", **files}.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def test_detects_a_module_level_cycle(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = _package(
        tmp_path,
        {
            "a.py": "from pkg.b import x\n",
            "b.py": "import pkg.c\nx = 1\n",
            "c.py": "from pkg import a\n",
        },
    )
    assert main(["--root", str(root)]) == 1
    assert "cycle (module-level): pkg.a -> pkg.b -> pkg.c -> pkg.a" in capsys.readouterr().out


def test_function_level_and_type_checking_imports_break_cycles(tmp_path: Path) -> None:
    root = _package(
        tmp_path,
        {
            "a.py": "from pkg.b import x\n",
            "b.py": "x = 1\n\ndef f():\n    from pkg import a\n",
            "c.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.d import y\n",
            "d.py": "from pkg.c import TYPE_CHECKING\ny = 2\n",
            "sub/__init__.py": "from pkg.sub.e import z\n",
            "sub/e.py": "from pkg.sub.f import w\nz = 3\n",  # parent package: not an edge
            "sub/f.py": "w = 4\n",
        },
    )
    graph = build_graph(root)
    assert module_level_cycles(graph) == []
    assert graph.function_level["pkg.b"] == {"pkg.a"}
    assert "pkg.d" not in graph.module_level["pkg.c"]
    both = {m: graph.module_level[m] | graph.function_level[m] for m in graph.modules}
    assert find_cycles(both) == [["pkg.a", "pkg.b", "pkg.a"]]
    assert main(["--root", str(root)]) == 0


def test_recipes_import_no_torch() -> None:
    result = _python("import slimkit.recipes; import sys; assert 'torch' not in sys.modules")
    assert result.returncode == 0, result.stderr


def test_validate_and_help_import_nothing_heavy() -> None:
    code = (
        "import sys\n"
        "from slimkit.cli import main\n"
        "assert main(['validate', 'recipes/quickstart.yaml']) == 0\n"
        "try:\n"
        "    main(['--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        f"heavy = [m for m in {HEAVY!r} if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    result = _python(code)
    assert result.returncode == 0, result.stderr
    assert "ok (4 stages" in result.stdout


def test_config_modules_import_no_torch() -> None:
    modules = [
        "slimkit.stages.config",
        "slimkit.engine.config",
        "slimkit.sparsity.config",
        "slimkit.lowrank.config",
        "slimkit.distill.config",
        "slimkit.models.config",
        "slimkit.data.config",
        "slimkit.builtins",
        "slimkit.models",
        "slimkit.data",
        "slimkit.engine",
        "slimkit.penalties",
        "slimkit.stages",
    ]
    code = (
        "import importlib, sys\n"
        f"for m in {modules!r}:\n"
        "    importlib.import_module(m)\n"
        "from slimkit.registry import STAGES, TERMS\n"
        "for kind in STAGES.names():\n"
        "    STAGES.get(kind).config\n"
        "for name in TERMS.names():\n"
        "    TERMS.get(name).config\n"
        "assert 'torch' not in sys.modules, [m for m in sys.modules if m.startswith('slimkit')]\n"
    )
    result = _python(code)
    assert result.returncode == 0, result.stderr
