"""The search stage in recipes: the digits end-to-end recipe, the CIFAR-10 recipes at a tiny
budget, and one-line errors for bad input."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from slimkit.artifacts import load_artifact
from slimkit.config import ConfigError
from slimkit.nas.genotype import NAMED_GENOTYPES, Genotype
from slimkit.pipeline import run_recipe
from slimkit.recipes import load_recipe, recipe_from_dict
from slimkit.report import validate_report
from tests.helpers import REPO, run_cli

QUIET = ["runtime.quiet=true", "runtime.threads=2"]
TINY_SEARCH = [
    "stages.0.epochs=1",
    "stages.0.steps_per_epoch=1",
    "data.subset_per_class=4",
    "data.test_subset_per_class=2",
    "data.batch_size=8",
]


@pytest.mark.slow  # ~60 s on 2 cores: CI runs it on its own line
def test_digits_darts_search_recipe(tmp_path: Path) -> None:
    out = tmp_path / "run"
    start = time.perf_counter()
    proc = run_cli(
        "run", str(REPO / "recipes" / "digits_darts_search.yaml"), "--out", str(out), "-q"
    )
    seconds = time.perf_counter() - start
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads((out / "report.json").read_text())
    validate_report(report)
    assert [s["kind"] for s in report["stages"]] == ["search", "train", "export", "measure"]
    search = report["stages"][0]
    assert search["method"] == "rarts" and search["passes_per_iter"] == 2.0
    assert search["iterations"] == 12 and search["seconds_per_epoch"] > 0
    assert 0.0 <= search["val_top1"] <= 1.0 and 0.0 <= search["val_top1_y"] <= 1.0
    assert search["coupling_distance"] > 0  # the two weight copies differ after training
    assert [len(search["alpha"][c]) for c in ("normal", "reduce")] == [14, 14]
    genotype = Genotype.from_dict(json.loads((out / "genotype.json").read_text()))
    assert genotype.to_dict() == search["genotype"]
    assert {"genotype.png", "search_alphas.png"} <= set(report["plots"])
    assert (out / "genotype.png").stat().st_size > 10_000
    assert search["derived"]["params"] == report["final"]["params"]
    # Measured 0.980 when the recipe was written; 0.842 on 2026-12-02 on this project's machine
    # with the same code (42bd593): the 2-epoch search picks a different genotype (434,532 vs
    # 437,644 params) when float summation order differs by CPU.
    assert report["final"]["top1"] >= 0.80, report["final"]
    assert (
        report["artifacts"]["onnx"] == "model.onnx" and report["stages"][2]["max_abs_diff"] < 1e-4
    )
    assert "ort_bs1" in report["final"]["latency_ms"]
    handle = load_artifact(out / "model.slim.pt")
    assert handle.builder["name"] == "darts_net"
    assert handle.builder["kwargs"]["genotype"] == search["genotype"]  # rebuilds without the file
    assert seconds < 180, (
        f"{seconds:.0f}s"
    )  # measured 60 s on 2 quiet cores (bar: 90 s); slack for CI


@pytest.mark.slow  # 12-18 s each on 2 cores: on CI's slow line to keep the fast line under 10 min
@pytest.mark.parametrize(
    ("recipe", "method", "passes"),
    [
        ("cifar10_darts_search_cpu", "rarts", 2.0),
        ("cifar10_darts_1st_search_cpu", "darts_1st", 2.0),
        ("cifar10_darts_2nd_search_cpu", "darts_2nd", 5.0),
    ],
)
def test_cifar10_search_recipes_run_tiny(
    tmp_path: Path, cifar10_root: str, recipe: str, method: str, passes: float
) -> None:
    cfg = load_recipe(
        REPO / "recipes" / f"{recipe}.yaml", [*QUIET, *TINY_SEARCH, f"data.root={cifar10_root}"]
    )
    report = run_recipe(cfg, tmp_path / "run", echo=lambda line: None)
    stage = report["stages"][0]
    assert stage["method"] == method and stage["passes_per_iter"] == passes
    assert stage["iterations"] == 1 and "val_top1" in stage and "alpha" in stage
    assert (tmp_path / "run" / "genotype.json").is_file()
    assert report["final"]["params"] == stage["supernet_params"]  # derive: null keeps the supernet


def test_cifar10_retrain_recipe_runs_tiny(tmp_path: Path, cifar10_root: str) -> None:
    NAMED_GENOTYPES["darts_v1"].save(tmp_path / "g.json")
    overrides = [
        f"model.kwargs.genotype={tmp_path / 'g.json'}",
        "model.kwargs.cells=3",
        "train.epochs=1",
        "data.subset_per_class=4",
        "data.test_subset_per_class=2",
        "data.batch_size=8",
        "stages.1.batch_sizes=[1]",
        "stages.1.repeats=2",
        "stages.1.warmup=1",
        f"data.root={cifar10_root}",
    ]
    cfg = load_recipe(REPO / "recipes" / "cifar10_darts_retrain_cpu.yaml", [*QUIET, *overrides])
    report = run_recipe(cfg, tmp_path / "run", echo=lambda line: None)
    assert report["stages"][0]["drop_path_prob"] == pytest.approx(0.0)  # epoch 0 of 1: no drop yet
    assert report["final"]["latency_ms"]["ort_bs1"] > 0


SEARCH = {
    "model": {"name": "darts_supernet", "kwargs": {"cells": 3, "channels": 4}},
    "data": {"name": "digits", "batch_size": 8, "val_fraction": 0.5},
    "stages": [{"kind": "search", "epochs": 1, "steps_per_epoch": 1, "derive": None}],
}


def test_search_without_val_split_is_one_line() -> None:
    raw = {**SEARCH, "data": {"name": "digits"}}
    with pytest.raises(ConfigError) as info:
        recipe_from_dict(raw)
    message = str(info.value)
    assert "stages[0] (search) needs a validation split" in message and "val_fraction" in message
    assert "\n" not in message
    with pytest.raises(
        ConfigError, match="needs a validation split"
    ):  # val_source: test is not one
        recipe_from_dict({**SEARCH, "data": {"name": "digits", "val_source": "test"}})


def test_search_on_a_plain_model_is_one_line(tmp_path: Path) -> None:
    cfg = recipe_from_dict({**SEARCH, "model": {"name": "lenet5"}}, overrides=QUIET)
    with pytest.raises(
        ValueError, match=r"stages\[0\] \(search\): the model must be darts_supernet, got 'lenet5'"
    ):
        run_recipe(cfg, tmp_path / "run", echo=lambda line: None)


def test_rarts_unstable_coupling_is_refused() -> None:
    with pytest.raises(ConfigError, match="lr·beta must stay below 1"):
        recipe_from_dict(SEARCH, overrides=["stages.0.beta=50"])


def test_bad_genotype_file_in_a_recipe_is_one_line(tmp_path: Path) -> None:
    data = NAMED_GENOTYPES["darts_v2"].to_dict()
    data["normal"][1][0][0] = "conv_9x9"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data))
    recipe = tmp_path / "r.yaml"
    recipe.write_text(
        "model: {name: darts_net, kwargs: {genotype: " + str(bad) + ", cells: 3, channels: 8}}\n"
        "stages: [{kind: train, epochs: 1}]\n"
    )
    proc = run_cli("run", str(recipe), "--out", str(tmp_path / "run"), "-q")
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "unknown operation 'conv_9x9'" in lines[0], proc.stderr


def test_val_split_smaller_than_a_batch_is_one_line(tmp_path: Path) -> None:
    raw = {**SEARCH, "data": {"name": "digits", "batch_size": 32, "val_per_class": 1}}
    cfg = recipe_from_dict(raw, overrides=QUIET)
    with pytest.raises(ValueError, match=r"the val split \(10 images\) holds no full batch"):
        run_recipe(cfg, tmp_path / "run", echo=lambda line: None)


@pytest.mark.slow  # 54 s on 2 cores: on CI's slow line to keep the fast line under 10 min
def test_search_resumes_exactly_after_an_interrupt(tmp_path: Path, monkeypatch) -> None:
    from slimkit.nas.search import ArchitectureSearch

    raw = {**SEARCH, "stages": [{**SEARCH["stages"][0], "epochs": 2, "steps_per_epoch": 2}]}
    cfg = recipe_from_dict(raw, overrides=QUIET)
    full = run_recipe(cfg, tmp_path / "full", echo=lambda line: None)
    original, calls = ArchitectureSearch.step, {"n": 0}

    def interrupted(self, train, val):  # the third iteration: epoch 2 has begun
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return original(self, train, val)

    monkeypatch.setattr(ArchitectureSearch, "step", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_recipe(cfg, tmp_path / "cut", echo=lambda line: None)
    monkeypatch.setattr(ArchitectureSearch, "step", original)
    lines: list[str] = []
    resumed = run_recipe(cfg, tmp_path / "cut", resume=True, echo=lines.append)
    assert any("resumed the search of stage 0 after epoch 1" in line for line in lines), lines
    assert resumed["stages"][0]["alpha"] == full["stages"][0]["alpha"]
    assert resumed["stages"][0]["iterations"] == full["stages"][0]["iterations"] == 4
