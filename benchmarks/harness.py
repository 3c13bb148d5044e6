"""Shared benchmark harness: one data budget, one training loop, one measurement protocol.

Every benchmark in this folder compares methods under the same budget. This module holds what
they share so that each script only describes its methods:

- :class:`Bench`: a class-balanced subset of a dataset, the training loop (slimkit's ``Trainer``
  with SGD + cosine), full-test-set top-1, and params / MACs / ONNX Runtime latency;
- :class:`Results`: rows saved to ``benchmarks/results/NAME.{json,md}`` after every method, so a
  crash keeps the finished rows (the markdown is rendered by the script's own function);
- Torch-Pruning glue: its sparsity regularizer as a training term, a global pruner with a fine
  iterative schedule, and stepping it to a MACs target.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from slimkit.data import Augment, BatchLoader, load_dataset
from slimkit.data.dataset import subset_per_class
from slimkit.data.split import carve_val
from slimkit.engine import OptimizerConfig, ScheduleConfig, Trainer, TrainingTerm, evaluate
from slimkit.measure import count_macs, count_params, export_onnx, measure_latency
from slimkit.measure.interleaved import interleaved_ort_latency

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"


class Bench:
    """Data, training budget and measurement shared by every method of one benchmark.

    Args:
        dataset: slimkit dataset name (``cifar10``, ``digits``...); CIFAR reads ``$SLIMKIT_DATA``
            or ``.cache/data``.
        per_class: class-balanced training subset (``None``: all).
        batch_size: training batch size.
        threads: CPU threads for training and latency.
        mean, std: normalization (``None``: the dataset's own).
        test_per_class: test subset (``None``: the full test set).
        val_per_class: carve a validation split of this many images per class out of the full
            training set first (seed 0, stratified; the same split for every ``per_class``), so
            that hyperparameters are chosen on it and never on the test set (``None``: no split).
    """

    def __init__(
        self,
        dataset: str,
        *,
        per_class: int | None,
        batch_size: int,
        threads: int = 2,
        mean: Sequence[float] | None = None,
        std: Sequence[float] | None = None,
        test_per_class: int | None = None,
        val_per_class: int | None = None,
    ) -> None:
        root = os.environ.get("SLIMKIT_DATA", str(REPO / ".cache" / "data"))
        self.data = load_dataset(
            dataset,
            root=root if dataset.startswith("cifar") else None,
            subset_per_class=None if val_per_class else per_class,
            test_subset_per_class=test_per_class,
        )
        self.val_data = None
        if val_per_class:
            self.data.train, self.val_data = carve_val(
                self.data.train, per_class=val_per_class, seed=0
            )
            if per_class is not None:
                self.data.train = subset_per_class(self.data.train, per_class, 0, field="per_class")
        self.batch_size = batch_size
        self.threads = threads
        self.mean = tuple(mean) if mean is not None else self.data.mean
        self.std = tuple(std) if std is not None else self.data.std
        self.input_size = self.data.input_size
        self.augment = Augment() if dataset.startswith("cifar") else None
        self.test = BatchLoader(
            self.data.test, 1000, shuffle=False, augment=None, mean=self.mean, std=self.std
        )
        self.val = None
        if self.val_data is not None:
            self.val = BatchLoader(
                self.val_data, 1000, shuffle=False, augment=None, mean=self.mean, std=self.std
            )

    def loader(self, seed: int) -> BatchLoader:
        """The shuffled, augmented training loader for one run (``seed`` fixes the order)."""
        return BatchLoader(
            self.data.train,
            self.batch_size,
            shuffle=True,
            augment=self.augment,
            mean=self.mean,
            std=self.std,
            seed=seed,
            drop_last=True,
        )

    def train(
        self,
        model: nn.Module,
        epochs: int,
        terms: list[TrainingTerm],
        lr: float,
        seed: int,
        weight_decay: float = 1e-4,
        optimizer: OptimizerConfig | None = None,
    ) -> float:
        """Train in place (SGD momentum 0.9, cosine; or ``optimizer``); return the wall seconds."""
        trainer = Trainer(
            model,
            self.loader(seed),
            None,
            epochs=epochs,
            optimizer=optimizer or OptimizerConfig(lr=lr, momentum=0.9, weight_decay=weight_decay),
            schedule=ScheduleConfig(name="cosine"),
            terms=terms,
            log_every=50,
            echo=lambda line: print("   ", line, flush=True),
        )
        start = time.perf_counter()
        trainer.fit()
        return time.perf_counter() - start

    def top1(self, model: nn.Module) -> float:
        """Top-1 on the test split."""
        return evaluate(model, self.test).top1

    def val_top1(self, model: nn.Module) -> float:
        """Top-1 on the validation split carved from train (``val_per_class`` must be set)."""
        if self.val is None:
            raise ValueError("val_per_class: this bench has no validation split")
        return evaluate(model, self.val).top1

    def measure(self, model: nn.Module, repeats: int = 30) -> dict[str, Any]:
        """Params, MACs and ONNX Runtime latency (batch 1 and 32) of ``model`` on CPU."""
        model = model.cpu()
        lat = measure_latency(
            model,
            self.input_size,
            batch_sizes=(1, 32),
            threads=self.threads,
            runtimes=("ort",),
            repeats=repeats,
        )
        return {
            "params": count_params(model),
            "macs": count_macs(model, self.input_size),
            "latency_ms": lat,
        }


def interleaved_latency(
    models: dict[str, nn.Module],
    input_size: tuple[int, int, int],
    threads: int = 2,
    rounds: int = 5,
    repeats: int = 50,
) -> dict[str, dict[str, float]]:
    """ORT latency (batch 1 and 32) of several models, measured in ``rounds`` interleaved passes
    (model A, B, C, A, B, C, ...) and reduced to the median over passes, so that a slow spell of
    the machine hits every model alike instead of one row: each model is exported to ONNX and
    timed by :func:`slimkit.measure.interleaved.interleaved_ort_latency`."""
    with tempfile.TemporaryDirectory(prefix="slimkit-bench-") as tmp:
        files = {}
        for i, (name, model) in enumerate(models.items()):
            files[name] = Path(tmp) / f"model{i}.onnx"
            export_onnx(model.cpu(), files[name], input_size, dynamic_batch=True)
        return interleaved_ort_latency(
            files, input_size, batch_sizes=(1, 32), threads=threads, rounds=rounds,
            repeats=repeats,
        )  # fmt: skip


def add_sweep_arguments(
    parser: Any, *, grid: Sequence[float], per_class: int, epochs: int, ft_epochs: int = 1
) -> None:
    """The sweep options every tuned benchmark shares: ``--grid`` (the values each method's
    sweep tries), ``--sweep-per-class``, ``--sweep-epochs`` and ``--sweep-ft-epochs``."""
    parser.add_argument(
        "--grid", type=float, nargs="+", default=list(grid),
        help="the λ / reg values every method's sweep tries (the same trials for every method)",
    )  # fmt: skip
    parser.add_argument("--sweep-per-class", type=int, default=per_class)
    parser.add_argument("--sweep-epochs", type=int, default=epochs)
    parser.add_argument("--sweep-ft-epochs", type=int, default=ft_epochs)


def grid_sweep(
    objective: Callable[[float], dict[str, Any]], grid: Sequence[float], label: str
) -> dict[str, Any]:
    """Optuna grid search of one hyperparameter: ``objective(value)`` returns a dict with the
    validation ``score`` (higher is better) and anything else worth recording. Every value of
    ``grid`` is tried once, so every method of a benchmark gets the same number of trials.

    Returns:
        ``{"best": value, "trials": [objective's dicts with "hyper", sorted by value]}``.
    """
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    trials: list[dict[str, Any]] = []

    def run(trial: Any) -> float:
        value = trial.suggest_float("hyper", min(grid), max(grid), log=True)
        out = {"hyper": value, **objective(value)}
        trials.append(out)
        print(f"   sweep {label} {value:g}: val score {out['score']:.4f}", flush=True)
        return out["score"]

    study = optuna.create_study(
        direction="maximize", sampler=optuna.samplers.GridSampler({"hyper": list(grid)}, seed=0)
    )
    study.optimize(run, n_trials=len(grid))
    trials.sort(key=lambda t: t["hyper"])
    return {"best": study.best_params["hyper"], "trials": trials}


def cpu_simd() -> list[str]:
    """The SIMD extensions of this CPU that decide ONNX Runtime's convolution channel block
    (AVX2: 8 channels, AVX-512: 16)."""
    try:
        flags = Path("/proc/cpuinfo").read_text().split()
    except OSError:
        return []
    return sorted({f for f in flags if f in ("avx2", "avx512f", "avx512_vnni")})


class Results:
    """Rows of one benchmark, written to JSON and markdown after every row."""

    def __init__(self, name: str, setup: dict[str, Any], render: Callable[[dict], str]) -> None:
        self.name = name
        self.render = render
        self.started = time.perf_counter()
        self.data: dict[str, Any] = {
            "command": "python " + " ".join(sys.argv),
            "setup": {**setup, "torch": torch.__version__},
            "rows": [],
        }

    @property
    def rows(self) -> list[dict[str, Any]]:
        return self.data["rows"]

    def add(self, row: dict[str, Any]) -> dict[str, Any]:
        """Append ``row`` and rewrite both files."""
        self.rows.append(row)
        self.save()
        return row

    def save(self, **extra: Any) -> None:
        """Rewrite ``RESULTS/NAME.json`` and ``.md`` (``extra`` goes into the JSON top level)."""
        self.data.update(extra)
        self.data["total_seconds"] = round(time.perf_counter() - self.started, 1)
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / f"{self.name}.json").write_text(json.dumps(self.data, indent=2) + "\n")
        (RESULTS / f"{self.name}.md").write_text(self.render(self.data))


def run_recipe(recipe: dict[str, Any], keep: Path | None = None) -> dict[str, Any]:
    """Run ``recipe`` (a recipe dict) with ``slimkit run`` in a fresh process; return its report.

    Args:
        recipe: the recipe as a dict (e.g. a shipped YAML loaded and edited).
        keep: a directory to copy the run's ``report.json`` and ``report.md`` into (optional).

    Raises:
        SystemExit: with the end of the run's stderr when it fails.
    """
    import shutil

    import yaml

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "recipe.yaml"
        path.write_text(yaml.safe_dump(recipe, sort_keys=False))
        out = Path(tmp) / "run"
        cmd = [sys.executable, "-m", "slimkit", "run", str(path), "--out", str(out), "-q"]
        proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise SystemExit(proc.stderr[-2000:])
        report = json.loads((out / "report.json").read_text())
        if keep is not None:
            keep.mkdir(parents=True, exist_ok=True)
            for name in ("report.json", "report.md", "target_plan.json"):
                if (out / name).exists():
                    shutil.copy(out / name, keep / name)
    return report


def speedups(rows: list[dict[str, Any]], reference: dict[str, Any]) -> None:
    """Add ``macs_reduction`` and ``ort_speedup_bs1/bs32`` relative to ``reference`` to rows."""
    for row in rows:
        row["macs_reduction"] = round(reference["macs"] / row["macs"], 3)
        for bs in (1, 32):
            key = f"ort_bs{bs}"
            row[f"ort_speedup_bs{bs}"] = round(
                reference["latency_ms"][key] / row["latency_ms"][key], 3
            )


class TorchPruningRegularizer(TrainingTerm):
    """Torch-Pruning's own sparsity regularizer (``pruner.regularize``) as a training term."""

    def __init__(self, pruner: Any) -> None:
        self.pruner = pruner

    def before_step(self, model: nn.Module) -> None:
        self.pruner.regularize(model)


def make_tp_pruner(
    model: nn.Module,
    importance: Any,
    pruner_cls: Any,
    reg: float,
    input_size: tuple[int, int, int],
    ignored_layers: list[nn.Module],
    steps: int = 60,
    round_to: int | None = None,
) -> Any:
    """A global Torch-Pruning pruner with a fine iterative schedule (stepped by :func:`tp_prune`);
    ``round_to`` is Torch-Pruning's own (kept channels a multiple of it)."""
    return pruner_cls(
        model,
        torch.zeros(1, *input_size),
        importance=importance,
        reg=reg,
        global_pruning=True,
        pruning_ratio=0.9,
        iterative_steps=steps,
        ignored_layers=ignored_layers,
        round_to=round_to,
    )


def tp_prune(
    model: nn.Module, pruner: Any, target_macs: int, input_size: tuple[int, int, int]
) -> None:
    """Step Torch-Pruning's iterative schedule until MACs <= ``target_macs``.

    A step that may cross the target (the MACs left are within twice the last step's drop) is
    applied group by group (``step(interactive=True)``) and stops at the first group that meets
    it, so every method lands on the target within one group's channels rather than one whole
    global step (GroupNormPruner's steps overshot a 2.2x target to 2.71x).
    """
    macs = count_macs(model, input_size)
    last_drop: int | None = None
    for _ in range(pruner.iterative_steps):
        if macs <= target_macs:
            break
        fine = last_drop is None or macs - 2 * last_drop <= target_macs
        for group in pruner.step(interactive=True):
            group.prune()
            if fine and count_macs(model, input_size) <= target_macs:
                break
        after = count_macs(model, input_size)
        last_drop, macs = macs - after, after
