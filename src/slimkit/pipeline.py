"""Run a recipe: build data and model, execute the stages in order, write the run directory.

A run directory holds ``recipe.yaml`` (resolved), ``metrics.jsonl``, ``checkpoints/`` (one per
train stage, rewritten every epoch), ``stages/`` (the model after each finished stage, so
``resume`` restarts at the first unfinished stage), ``model.slim.pt`` (the final artifact),
``report.json``, ``report.md`` and PNG plots. Under torchrun only rank 0 writes.

Example:
    >>> import tempfile
    >>> from slimkit.recipes import recipe_from_dict
    >>> recipe = recipe_from_dict({"model": {"name": "lenet5"},
    ...     "data": {"name": "digits", "subset_per_class": 10, "test_subset_per_class": 5,
    ...              "batch_size": 32},
    ...     "runtime": {"quiet": True},
    ...     "stages": [{"kind": "train", "epochs": 1}]})
    >>> report = run_recipe(recipe, tempfile.mkdtemp(), echo=lambda line: None)
    >>> 0.0 <= report["final"]["top1"] <= 1.0
    True
"""

from __future__ import annotations

import copy
import inspect
import itertools
import json
import math
import os
import random
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed

from slimkit import __version__
from slimkit.artifacts import ArtifactError, SlimModel, load_artifact, save_artifact
from slimkit.config import short_repr
from slimkit.contexts import FinalFigures
from slimkit.data.dataset import DatasetSplits
from slimkit.data.loader import make_loader
from slimkit.data.registry import load_dataset
from slimkit.data.split import carve_val
from slimkit.engine.checkpoint import (
    CheckpointError,
    atomic_save,
    load_checkpoint,
    rng_state,
    set_rng_state,
)
from slimkit.engine.distributed import DistInfo, barrier, init_distributed, shutdown
from slimkit.engine.evaluate import EvalResult, evaluate
from slimkit.engine.memory_format import channels_last_failure, channels_last_hazard
from slimkit.engine.metrics import MetricsLog
from slimkit.engine.progress import ProgressBars
from slimkit.errors import first_line
from slimkit.fileio import atomic_write_text
from slimkit.measure import count_macs, count_params
from slimkit.models import load_weights
from slimkit.recipes import Recipe, save_recipe
from slimkit.registry import DATASETS, STAGES, TASKS
from slimkit.report import write_report
from slimkit.tasks.base import Task
from slimkit.yaml_strict import YamlError, load_yaml


class RunDirError(ValueError):
    """The run directory cannot be used as asked (one-line message)."""


@dataclass
class RunContext:
    """The run as stages and terms see it: implements :class:`slimkit.contexts.StageContext`.

    Stages edit ``model`` and the ``final`` figures in place.
    """

    recipe: Recipe
    run_dir: Path
    model: SlimModel
    task: Task
    data: DatasetSplits
    device: torch.device
    dist: DistInfo
    bars: ProgressBars
    metrics: MetricsLog
    echo: Callable[[str], None]
    resume: bool = False
    stage_index: int = 0
    final: FinalFigures = field(default_factory=FinalFigures)
    initial: dict[str, Any] = field(default_factory=dict)
    warnings_shown: set[str] = field(default_factory=set)
    rerun_from: int | None = None  # resume: first stage whose settings changed since the start
    target_plan: Any = None  # slimkit.target.plan.TargetPlan when the recipe has a target

    @property
    def normalization(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        """(mean, std) for inputs: the recipe's if given, else the dataset's."""
        cfg = self.recipe.data
        mean = tuple(cfg.mean) if cfg.mean is not None else self.data.mean
        std = tuple(cfg.std) if cfg.std is not None else self.data.std
        return mean, std

    @property
    def input_size(self) -> tuple[int, int, int]:
        """(C, H, W) of one input image."""
        return self.model.input_size

    @property
    def channels_last(self) -> bool:
        """Whether batches and the model use channels_last: the recipe's choice, unless the
        current model has a layer that oneDNN mishandles in that format
        (:mod:`slimkit.engine.memory_format`)."""
        if not self.recipe.runtime.channels_last:
            return False
        return self.channels_last_refusal() is None

    def channels_last_refusal(self) -> str | None:
        """Why the current model runs in the contiguous format although the recipe asks for
        channels_last: a oneDNN hazard on the CPU or a forward that fails in that format."""
        module = self.model.module
        hazard = channels_last_hazard(module) if self.device.type == "cpu" else None
        if hazard:
            return f"{hazard} (oneDNN fault)"
        return channels_last_failure(module, self.input_size)

    def splits(self) -> list[str]:
        """``train``, ``val`` (when the recipe carves one) and ``test``."""
        return ["train", "test"] if self.data.val is None else ["train", "val", "test"]

    def loader(self, split: str, *, seed_offset: int = 0, shuffle: bool = False) -> Any:
        """This rank's batches of ``split``: ``train`` is shuffled, augmented and drops the last
        partial batch; ``val``, ``test`` and ``train_eval`` (the training images, unaugmented)
        are this rank's evaluation shard (every sample on exactly one rank). ``shuffle=True``
        serves any split the way ``train`` is served (architecture search trains α on ``val``)."""
        cfg = self.recipe.data
        mean, std = self.normalization
        sources = {"train": self.data.train, "val": self.data.val, "test": self.data.test}
        if split == "train" or (shuffle and sources.get(split) is not None):
            return make_loader(
                sources[split],
                cfg.batch_size,
                shuffle=True,
                augment=cfg.augment,
                mean=mean,
                std=std,
                seed=self.recipe.seed + seed_offset,
                rank=self.dist.rank,
                world_size=self.dist.world_size,
                drop_last=cfg.drop_last,
                channels_last=self.channels_last,
            )
        dataset = {"val": self.data.val, "test": self.data.test, "train_eval": self.data.train}
        dataset = dataset.get(split)
        if dataset is None:
            raise ValueError(f"split: expected one of {self.splits()}, got {split!r}")
        rank, world = self.dist.rank, self.dist.world_size
        if world > 1:
            dataset = dataset.subset(torch.arange(rank, len(dataset), world))
        return make_loader(
            dataset,
            cfg.eval_batch_size,
            shuffle=False,
            augment=None,
            mean=mean,
            std=std,
            channels_last=self.channels_last,
        )

    def evaluate(
        self, description: str = "eval", split: str = "test", model: Any = None
    ) -> EvalResult:
        """The task's metrics on ``split`` (all ranks). Evaluating the run's own model on the
        test split also updates ``final`` (what the report shows). Before a test evaluation the
        task may pick a setting on the validation split (:meth:`Task.calibrate`)."""
        net = model if model is not None else self.model.module

        def run(split: str, description: str) -> EvalResult:
            return evaluate(
                net,
                self.loader(split),
                task=self.task,
                device=self.device,
                dist=self.dist,
                amp=self.recipe.runtime.amp,
                bars=self.bars,
                description=description,
            )

        if split == "test" and self.data.val is not None:
            self.task.calibrate(lambda: run("val", f"{description} (val calibration)").metrics)
        result = run(split, description)
        if model is None and split == "test":
            self.final.metrics = dict(result.metrics)
            self.final.headline = {"name": result.headline_name, "value": result.headline}
        return result

    def path(self, *parts: str) -> Path:
        """A path inside the run directory."""
        return self.run_dir.joinpath(*parts)


def resolve_device(name: str) -> torch.device:
    """``auto`` picks CUDA when available."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("runtime.device: 'cuda' was asked for but no CUDA device is available")
    return torch.device(name)


def seed_everything(seed: int) -> None:
    """Seed torch, Python and NumPy global generators."""
    torch.manual_seed(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)


def default_run_dir(recipe: Recipe) -> Path:
    """``runs/NAME-YYYYmmdd-HHMMSS`` under the current directory (before uniquifying)."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    return Path("runs") / f"{recipe.name}-{stamp}"


RUN_MARKER = ".slimkit-run"


def create_unique_dir(base: Path) -> Path:
    """Create and return a new directory ``base``, or ``base-2``, ``base-3``... if taken.

    ``mkdir`` either creates the directory or fails, so two processes started in the same
    second never get the same one.
    """
    for n in itertools.count(1):
        candidate = base if n == 1 else base.with_name(f"{base.name}-{n}")
        try:
            candidate.mkdir(parents=True)
        except FileExistsError:
            continue
        return candidate
    raise AssertionError("unreachable")


def _claim(run_dir: Path) -> None:
    """Mark ``run_dir`` as this run's (fails if another run marked it first)."""
    try:
        fd = os.open(run_dir / RUN_MARKER, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        raise RunDirError(
            f"run directory {run_dir} is already used by another run; pass --out NEW_DIR"
        ) from None
    with os.fdopen(fd, "w") as f:
        f.write(f"{os.getpid()} {socket.gethostname()}\n")


def _prepare_run_dir(run_dir: Path | None, recipe: Recipe, resume: bool, dist: DistInfo) -> Path:
    """The run directory, created (new runs) or checked (``resume``) on rank 0."""
    if not dist.is_main:
        assert run_dir is not None
        return run_dir
    if run_dir is None:
        run_dir = create_unique_dir(default_run_dir(recipe))
        _claim(run_dir)
        return run_dir
    if run_dir.exists() and not run_dir.is_dir():
        raise RunDirError(f"run directory {run_dir} is a file; give a directory")
    if resume:
        if not run_dir.is_dir():
            raise RunDirError(f"--resume: run directory {run_dir} does not exist")
        if not (run_dir / "recipe.yaml").is_file():
            raise RunDirError(
                f"--resume: {run_dir} has no recipe.yaml; it is not a slimkit run directory"
            )
        return run_dir
    if run_dir.exists() and any(run_dir.iterdir()):
        raise RunDirError(
            f"run directory {run_dir} is not empty; pass --resume to continue it "
            "or --out NEW_DIR to start afresh"
        )
    run_dir.mkdir(parents=True, exist_ok=True)
    _claim(run_dir)
    return run_dir


# recipe keys a resumed run may change without rerunning anything (besides ``stages``)
RESUME_MAY_CHANGE = ("description", "runtime.quiet", "runtime.log_every", "runtime.loggers")


def _first_difference(saved: Any, given: Any, where: str = "") -> str | None:
    """``"key: old -> new"`` for the first leaf where two recipe dicts differ, else ``None``."""
    if isinstance(saved, dict) and isinstance(given, dict):
        for key in sorted(set(saved) | set(given), key=str):
            sub = f"{where}.{key}" if where else str(key)
            found = _first_difference(saved.get(key), given.get(key), sub)
            if found:
                return found
        return None
    if isinstance(saved, list) and isinstance(given, list) and len(saved) == len(given):
        for i, (a, b) in enumerate(zip(saved, given, strict=True)):
            found = _first_difference(a, b, f"{where}[{i}]")
            if found:
                return found
        return None
    if saved != given:
        return f"{where or 'recipe'}: {short_repr(saved, 40)} -> {short_repr(given, 40)}"
    return None


def _without(recipe: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    out = copy.deepcopy(recipe)
    for key in keys:
        node = out
        *parents, last = key.split(".")
        for part in parents:
            node = node.get(part, {}) if isinstance(node, dict) else {}
        if isinstance(node, dict):
            node.pop(last, None)
    return out


def first_changed_stage(saved: dict[str, Any], given: dict[str, Any], path: Path) -> int | None:
    """Index of the first stage whose settings differ between the recipe a run started with
    and the one it is resumed with (``None``: same stages).

    Raises:
        RunDirError: anything outside ``stages`` differs (model, data, task, seed, runtime...),
            except the keys in :data:`RESUME_MAY_CHANGE`.
    """
    ignored = (*RESUME_MAY_CHANGE, "stages")
    changed = _first_difference(_without(saved, ignored), _without(given, ignored))
    if changed:
        raise RunDirError(
            f"--resume: {changed} differs from the run's recipe ({path}); only stages and "
            f"{', '.join(RESUME_MAY_CHANGE)} may change on resume"
        )
    old, new = saved.get("stages") or [], given.get("stages") or []
    for index, (a, b) in enumerate(zip(old, new, strict=False)):
        if a != b:
            return index
    return None if len(old) == len(new) else min(len(old), len(new))


def _load_state(run_dir: Path) -> dict[str, Any]:
    path = run_dir / "state.json"
    if not path.is_file():
        return {"completed": []}
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise RunDirError(
            f"--resume: {path} is damaged ({first_line(exc, 80)}); "
            "delete it to rerun every stage, or start a new run"
        ) from None
    if not isinstance(state, dict) or not isinstance(state.get("completed"), list):
        raise RunDirError(f"--resume: {path} is not a slimkit run state; start a new run")
    return state


def _write_json(path: Path, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2))


def run_recipe(
    recipe: Recipe,
    run_dir: str | Path | None = None,
    *,
    resume: bool = False,
    quiet: bool | None = None,
    echo: Callable[[str], None] | None = None,
    command: str | None = None,
) -> dict[str, Any]:
    """Run every stage of ``recipe`` and return the report dict (also written as report.json).

    Args:
        recipe: a validated recipe.
        run_dir: output directory (default ``runs/NAME-TIMESTAMP``).
        resume: continue an interrupted run in ``run_dir``.
        quiet: no progress bars (default: the recipe's ``runtime.quiet``).
        echo: where one-line progress messages go (default: stderr, rank 0 only).
        command: the command line, recorded in the report.
    """
    runtime = recipe.runtime
    if runtime.threads is not None:
        torch.set_num_threads(runtime.threads)
    if runtime.flush_denormal:  # denormal floats make CPU kernels ~100x slower
        torch.set_flush_denormal(True)
    device = resolve_device(runtime.device)
    dist = init_distributed(device.type)
    if device.type == "cuda" and dist.enabled:
        device = torch.device("cuda", dist.local_rank)
    try:
        return _run(recipe, run_dir, resume, quiet, echo, command, device, dist)
    finally:
        shutdown(dist)


def _run(recipe, run_dir, resume, quiet, echo, command, device, dist) -> dict[str, Any]:
    started = time.perf_counter()
    ctx = build_run(
        recipe, run_dir, resume=resume, quiet=quiet, echo=echo, device=device, dist=dist
    )
    records = run_stages(ctx)
    return finish_run(ctx, records, started=started, command=command)


def _say(echo: Callable[[str], None] | None, dist: DistInfo) -> Callable[[str], None]:
    say = echo or (lambda line: print(line, file=sys.stderr, flush=True))
    return say if dist.is_main else (lambda line: None)


def load_data(recipe: Recipe) -> DatasetSplits:
    """The recipe's dataset with its validation split (carved from train, or the test set)."""
    cfg = recipe.data
    kwargs = dict(cfg.kwargs)
    builder = DATASETS.get(cfg.name)
    if "task" in inspect.signature(builder).parameters and "task" not in kwargs:
        kwargs["task"] = recipe.task.name  # COCO-style sets load boxes or label maps
    data = load_dataset(
        cfg.name,
        root=cfg.root,
        subset_per_class=cfg.subset_per_class,
        test_subset_per_class=cfg.test_subset_per_class,
        seed=recipe.seed,
        download=cfg.download,
        **kwargs,
    )
    if cfg.val_fraction is not None or cfg.val_per_class is not None:
        data.train, data.val = carve_val(
            data.train,
            fraction=cfg.val_fraction,
            per_class=cfg.val_per_class,
            seed=recipe.seed,
        )
    elif cfg.val_source == "test":
        data.val = data.test
    if len(data.train) == 0:
        raise ValueError(f"data: the training split of {data.name!r} is empty")
    if len(data.train) < cfg.batch_size and cfg.drop_last:
        raise ValueError(
            f"data.batch_size: {cfg.batch_size} is larger than the training set "
            f"({len(data.train)} samples): an epoch would have no step "
            "(lower it, or set data.drop_last: false)"
        )
    if len(data.test) == 0:
        raise ValueError(f"data: the test split of {data.name!r} is empty")
    if data.val is not None and len(data.val) == 0:
        raise ValueError(f"data: the validation split of {data.name!r} is empty")
    return data


def build_task(recipe: Recipe) -> Task:
    """The recipe's task object (``task.name`` from the task registry)."""
    return TASKS.get(recipe.task.name).build(recipe.task)


def _open_run_dir(
    recipe: Recipe, run_dir: Path | None, resume: bool, dist: DistInfo
) -> tuple[Path, int | None]:
    """Create or check the run directory on rank 0 (every rank gets its path or its error) and
    save the recipe; on resume, the index of the first stage whose settings changed."""
    outcome: list[Any] = [None, None, None]  # path, first changed stage, error message
    if dist.is_main:
        try:
            path = _prepare_run_dir(run_dir, recipe, resume, dist)
            saved = path / "recipe.yaml"
            given, before, rerun_from = recipe.to_dict(), None, None
            if resume:
                try:
                    before = load_yaml(saved.read_bytes(), source=str(saved))
                except YamlError as exc:
                    raise RunDirError(f"--resume: {exc}") from None
                if not isinstance(before, dict):
                    raise RunDirError(f"--resume: {saved} is not a recipe")
                rerun_from = first_changed_stage(before, given, saved)
                _load_state(path)  # a damaged state.json is refused before any work
            if before != given:  # a new run, or a resume whose stages or free keys changed
                save_recipe(recipe, saved)
            outcome = [str(path), rerun_from, None]
        except (ValueError, OSError) as exc:
            if not dist.enabled:
                raise
            outcome = [None, None, str(exc)]
    if dist.enabled:
        torch.distributed.broadcast_object_list(outcome, src=0)
    if outcome[2] is not None:
        raise RunDirError(outcome[2])
    return Path(outcome[0]), outcome[1]


def build_run(
    recipe: Recipe,
    run_dir: str | Path | None,
    *,
    resume: bool,
    quiet: bool | None,
    echo: Callable[[str], None] | None,
    device: torch.device,
    dist: DistInfo,
) -> RunContext:
    """Prepare the run directory, data, task and model; restore a resumed run's last model."""
    quiet = recipe.runtime.quiet if quiet is None else quiet
    say_main = _say(echo, dist)
    run_dir, rerun_from = _open_run_dir(
        recipe, Path(run_dir) if run_dir is not None else None, resume, dist
    )
    seed_everything(recipe.seed)

    data = load_data(recipe)
    task = build_task(recipe)
    try:
        handle = SlimModel.build(
            recipe.model.name,
            num_classes=task.num_outputs(data),
            input_size=data.input_size,
            kwargs=recipe.model.kwargs,
            meta={
                "dataset": data.name,
                "classes": getattr(data.train, "classes", None),
                "task": recipe.task.name,
            },
        )
    except TypeError as exc:  # an argument the builder does not take, or of the wrong type
        raise ValueError(f"model.kwargs: {recipe.model.name}: {first_line(exc)}") from None
    if recipe.model.weights:
        load_weights(handle.module, recipe.model.weights)
        handle.meta["weights"] = recipe.model.weights
    ctx = RunContext(
        recipe=recipe,
        run_dir=run_dir,
        model=handle,
        task=task,
        data=data,
        device=device,
        dist=dist,
        bars=ProgressBars(enabled=dist.is_main and not quiet),
        metrics=MetricsLog(
            run_dir / "metrics.jsonl" if dist.is_main else None,
            loggers=recipe.runtime.loggers,
        ),
        echo=say_main,
        resume=resume,
        rerun_from=rerun_from,
    )
    mean, std = ctx.normalization
    handle.meta.update({"mean": list(mean), "std": list(std)})
    ctx.initial = {
        "params": count_params(handle.module),
        "macs": count_macs(handle.module, data.input_size),
    }
    if recipe.target is not None:
        ctx.target_plan = _target_plan(ctx)
    val = f" / {len(data.val)} val" if data.val is not None else ""
    say_main(
        f"slimkit {__version__}: {recipe.name}: {recipe.model.name} on {data.name} "
        f"({recipe.task.name}; {len(data.train)} train{val} / {len(data.test)} test), "
        f"{ctx.initial['params']:,} params, {ctx.initial['macs']:,} MACs, "
        f"device {device}, {torch.get_num_threads()} threads"
        + (f", {dist.world_size} processes" if dist.enabled else "")
    )
    return ctx


def _target_plan(ctx: RunContext) -> Any:
    """The recipe's target split over its stages, checked for reachability before any training
    (a resumed run reuses the plan it started with: a latency reference is not re-measured)."""
    from slimkit.target.plan import TargetPlan, plan_target

    saved = ctx.path("target_plan.json")
    if ctx.resume and saved.is_file():
        plan = TargetPlan.from_dict(json.loads(saved.read_text(encoding="utf-8")))
    else:
        plan = plan_target(ctx.recipe, ctx.model.module, ctx.model.input_size)
        shares = ", ".join(f"stages[{s.index}] {s.kind} {s.share:.3f}" for s in plan.stages)
        ctx.echo(
            f"target {plan.quantity} {plan.fraction:.3f} of {plan.reference:,.3f} "
            f"(reachable down to {plan.closest:.3f}): {shares}"
        )
        if plan.quantity == "latency":
            plan.reference_onnx = "target_reference.onnx"
            if ctx.dist.is_main:
                _export_current_model(ctx, ctx.path(plan.reference_onnx))
        if ctx.dist.is_main:
            plan.save(saved)
        barrier(ctx.dist)
    reference = ctx.path(plan.reference_onnx) if plan.reference_onnx else None
    if reference is not None and reference.is_file():
        # candidates are timed beside the dense model, at the machine speed of the plan
        plan.latency_cache.reference_onnx = str(reference)
        plan.latency_cache.reference_ms = plan.reference
    return plan


def _export_current_model(ctx: RunContext, path: Path) -> None:
    """The model as it is now, as an fp32 ONNX file at ``path`` (checked against torch)."""
    from slimkit.measure.onnx_export import export_onnx

    dynamic = ctx.task.dynamic_batch
    module = copy.deepcopy(ctx.model.module).cpu().eval()
    export_onnx(
        module, path, ctx.model.input_size, dynamic_batch=dynamic, check_batch=2 if dynamic else 1
    )


def _paired_target_latency(ctx: RunContext, final_onnx: str | None) -> tuple[float, float] | None:
    """(dense, final) ORT ms of a latency target, timed in alternation (None without a reference).

    The final model's file is the exported one when the run has an export stage (what the measure
    stage timed, int8 included), else a fresh export of the final model."""
    import tempfile

    from slimkit.measure.latency import paired_ort_latency

    plan = ctx.target_plan
    if not plan.reference_onnx:  # set for latency targets only
        return None
    reference = ctx.path(plan.reference_onnx)
    if not reference.is_file():
        return None
    with tempfile.TemporaryDirectory(prefix="slimkit-target-") as tmp:
        final = ctx.path(final_onnx) if final_onnx else Path(tmp) / "final.onnx"
        if not final_onnx:
            _export_current_model(ctx, final)
        dense_ms, final_ms = paired_ort_latency(
            [reference, final],
            ctx.model.input_size,
            batch_size=plan.batch_size or 1,
            threads=plan.threads,
        )
    return dense_ms, final_ms


def run_stages(ctx: RunContext) -> list[dict[str, Any]]:
    """Run the stages not yet finished (all of them, unless resuming); return every record."""
    state = _load_state(ctx.run_dir) if ctx.resume else {"completed": []}
    if ctx.resume:
        _restore_completed(ctx, state)
    records: list[dict[str, Any]] = [c["record"] for c in state["completed"]]
    _to_device(ctx)
    recipe = ctx.recipe
    for index in range(len(records), len(recipe.stages)):
        stage_cfg = recipe.stages[index]
        ctx.stage_index = index
        label = stage_cfg.name or stage_cfg.kind
        ctx.echo(f"stage {index}: {label}")
        t0 = time.perf_counter()
        record = STAGES.get(stage_cfg.kind).run(ctx, stage_cfg)
        record = {"kind": stage_cfg.kind, "name": label, "seconds": 0.0, **record}
        record["seconds"] = round(time.perf_counter() - t0, 3)
        records.append(record)
        _to_device(ctx)
        _finish_stage(ctx, state, index, record)
    return records


def _restore_completed(ctx: RunContext, state: dict[str, Any]) -> None:
    """Resume: drop finished stages that changed since the start or whose saved model or RNG
    state is damaged (each said in one line), then load the last good stage's model."""
    completed = state["completed"]
    if ctx.rerun_from is not None:
        index = ctx.rerun_from
        changed = ctx.recipe.stages[index].kind if index < len(ctx.recipe.stages) else "removed"
        ctx.echo(f"stage {index} ({changed}) changed since the run started: rerunning from it")
        del completed[index:]
        if ctx.dist.is_main:  # a changed stage must not continue from its old checkpoint
            for checkpoint in ctx.path("checkpoints").glob("stage*.pt"):
                number = checkpoint.name.removeprefix("stage").split(".")[0]
                if number.isdigit() and int(number) >= index:
                    checkpoint.unlink(missing_ok=True)
        barrier(ctx.dist)
    while completed:
        last = completed[-1]
        if not isinstance(last, dict) or "final" not in last or "artifact" not in last:
            raise RunDirError(
                f"--resume: {ctx.path('state.json')} was written by an older slimkit "
                "(no 'final' figures); start a new run"
            )
        try:
            model = load_artifact(ctx.path(last["artifact"]))
            rng = load_checkpoint(ctx.path(last["rng"]))["rng"]
        except (ArtifactError, CheckpointError, KeyError) as exc:
            ctx.echo(
                f"--resume: the saved state of stage {len(completed) - 1} is damaged "
                f"({str(exc)[:160]}); rerunning that stage"
            )
            completed.pop()
            continue
        model.meta.update(ctx.model.meta)
        ctx.model = model
        set_rng_state(rng)
        ctx.final = FinalFigures(**last["final"])
        ctx.echo(
            f"resuming {ctx.run_dir} after stage {len(completed) - 1} ({last['record']['kind']})"
        )
        return
    ctx.echo(f"resuming {ctx.run_dir} from stage 0")


def finish_run(
    ctx: RunContext, records: list[dict[str, Any]], *, started: float, command: str | None
) -> dict[str, Any]:
    """Evaluate if no stage did, write the final artifact and the report; return the report."""
    if not ctx.final.metrics:
        ctx.evaluate("final eval")
    if ctx.task.evaluate_on_train:
        on_train = ctx.evaluate("eval train images", split="train_eval")
        ctx.final.metrics.update({f"{k}_train": v for k, v in on_train.metrics.items()})
    recipe, data, final = ctx.recipe, ctx.data, ctx.final
    final_model = ctx.path("model.slim.pt")
    figures: dict[str, Any] = {
        "params": count_params(ctx.model.module),
        "macs": count_macs(ctx.model.module, data.input_size),
        # an undefined metric (e.g. the rank correlation of a constant prediction) is null
        "metrics": {k: (v if math.isfinite(v) else None) for k, v in final.metrics.items()},
        "headline": dict(final.headline),
        "latency_ms": final.latency_ms,
    }
    if "top1" in final.metrics:
        figures["top1"] = float(final.metrics["top1"])
    report: dict[str, Any] = {
        "slimkit_version": __version__,
        "recipe": recipe.to_dict(),
        "command": command,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "host": {
            "hostname": socket.gethostname(),
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
            "device": str(ctx.device),
            "world_size": ctx.dist.world_size,
        },
        "task": {"name": recipe.task.name, "headline": ctx.task.headline},
        "dataset": {
            "name": data.name,
            "train_size": len(data.train),
            "val_size": len(data.val) if data.val is not None else 0,
            "test_size": len(data.test),
        },
        "initial": ctx.initial,
        "final": figures,
        "stages": records,
        "artifacts": {
            "model": final_model.name,
            "onnx": final.onnx_path,
            "report_md": "report.md",
        },
        "plots": list(final.plots),
        "total_seconds": round(time.perf_counter() - started, 3),
    }
    if ctx.target_plan is not None:
        paired = _paired_target_latency(ctx, final.onnx_path) if ctx.dist.is_main else None
        report["target"] = ctx.target_plan.outcome(
            figures["macs"], figures["params"], final.latency_ms, paired_ms=paired
        )
    if ctx.dist.is_main:
        save_artifact(ctx.model, final_model)
        write_report(ctx.run_dir, report)
        head = final.headline
        ctx.echo(
            f"done in {report['total_seconds']:.1f}s: {head['name']} {head['value']:.4f}, "
            f"{figures['params']:,} params, {figures['macs']:,} MACs"
        )
        ctx.echo(f"report: {ctx.path('report.md')} (data: {ctx.path('report.json')})")
    ctx.metrics.close()
    barrier(ctx.dist)
    return report


def _to_device(ctx: RunContext) -> None:
    module = ctx.model.module.to(ctx.device)
    if ctx.channels_last:
        module = module.to(memory_format=torch.channels_last)
    else:
        module = module.to(memory_format=torch.contiguous_format)
        hazard = ctx.channels_last_refusal() if ctx.recipe.runtime.channels_last else None
        if hazard and "channels_last" not in ctx.warnings_shown:
            ctx.echo(f"runtime.channels_last: off for this model: {hazard}")
            ctx.warnings_shown.add("channels_last")
    ctx.model.module = module


def _finish_stage(ctx: RunContext, state: dict[str, Any], index: int, record: dict) -> None:
    """Persist the model after a finished stage so a resumed run starts at the next one."""
    if ctx.dist.is_main:
        artifact = f"stages/stage{index}.slim.pt"
        rng = f"stages/stage{index}.rng.pt"
        save_artifact(ctx.model, ctx.path(artifact))
        atomic_save({"rng": rng_state()}, ctx.path(rng))
        state["completed"].append(
            {"record": record, "artifact": artifact, "rng": rng, "final": asdict(ctx.final)}
        )
        _write_json(ctx.path("state.json"), state)
    barrier(ctx.dist)
