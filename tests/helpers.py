"""Helpers shared by tests: repo paths and a CLI runner."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def run_cli(
    *args: str, cwd: Path | None = None, timeout: float = 600
) -> subprocess.CompletedProcess:
    """Run ``python -m slimkit ARGS`` in a subprocess and capture its output."""
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
    return subprocess.run(
        [sys.executable, "-m", "slimkit", *args],
        capture_output=True,
        text=True,
        cwd=cwd or REPO,
        env=env,
        timeout=timeout,
    )


def tiny_budget_overrides(
    recipe: dict, epochs: int | None, train_k: int | None, test_k: int | None, data_root: Path
) -> list[str]:
    """``slimkit run`` overrides that run a shipped recipe at a tiny budget: ``epochs`` per train
    stage (evaluated at the end), ``train_k``/``test_k`` images per class, CIFAR from
    ``data_root`` (CIFAR-100 recipes run on CIFAR-10: it is not in the shared data yet), and one
    latency repeat at batch 1."""
    items = []
    if recipe["data"]["name"] != "digits":
        items += ["data.name=cifar10", f"data.root={data_root}"]
        items += ["data.batch_size=50", "data.eval_batch_size=100"]
    if train_k:
        items += [f"data.subset_per_class={train_k}", f"data.test_subset_per_class={test_k}"]
    for i, stage in enumerate(recipe["stages"]):
        if stage["kind"] == "train" and epochs:
            items += [f"stages.{i}.epochs={epochs}", f"stages.{i}.eval_every={epochs}"]
        if stage["kind"] == "measure":
            items += [
                f"stages.{i}.repeats=1",
                f"stages.{i}.warmup=0",
                f"stages.{i}.batch_sizes=[1]",
            ]
    return items


def run_recipe_tiny(
    name: str,
    out: Path,
    budget: tuple[int | None, int | None, int | None],
    data_root: Path,
    timeout: float = 1500,
) -> dict:
    """Run the shipped recipe ``recipes/NAME`` through the CLI at ``budget`` (epochs, train and
    test images per class; see :func:`tiny_budget_overrides`) into ``out``; return its report."""
    import json

    import yaml

    recipe = yaml.safe_load((REPO / "recipes" / name).read_text())
    proc = run_cli(
        "run",
        str(REPO / "recipes" / name),
        *tiny_budget_overrides(recipe, *budget, data_root),
        "--out",
        str(out),
        "-q",
        timeout=timeout,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads((out / "report.json").read_text())
