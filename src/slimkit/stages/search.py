"""The ``search`` stage: differentiable architecture search (DARTS 1st/2nd order, RARTS).

Recipe form (the model must be ``darts_supernet``; the data must carve a val split)::

    model: {name: darts_supernet, kwargs: {cells: 5, channels: 8}}
    data: {name: cifar10, val_fraction: 0.5}     # DARTS: half of the training set for α
    stages:
      - kind: search
        method: rarts          # darts_1st | darts_2nd | rarts
        epochs: 3
        lam: 1.0               # RARTS λ   [reconstructed]
        beta: 1.0              # RARTS β   [reconstructed]
        variant: reuse         # RARTS: reuse (2 passes/iteration) | exact (4)
        skip_cap: null         # guard, not from the papers
        derive: {cells: 8, channels: 16, auxiliary: false, drop_path: 0.0}
      - kind: train            # retrain the derived network
        epochs: 10
        terms: [{name: darts_retrain, aux_weight: 0.4}]

Each iteration draws one train and one (shuffled, augmented) val batch; an epoch is one pass
over the train split (or ``steps_per_epoch``). The stage writes ``genotype.json``, the cell
diagrams ``genotype.png``, ``search_alphas.png`` (α over the epochs and at the end), one
``search_epoch`` line per epoch in ``metrics.jsonl`` (losses, skip connections per cell,
seconds), and, with ``derive``, replaces the run's model by ``darts_net`` built from the genotype
(the genotype is stored in the builder, so the artifact rebuilds without the file). A
checkpoint after every epoch lets ``--resume`` continue the search.

Report fields: ``method``, ``epochs`` (run), ``iterations``, ``passes_per_iter`` (measured
forward+backward passes per iteration), ``seconds_per_epoch`` (wall seconds of the search
iterations, evaluation excluded), ``seconds_per_iter``, ``val_top1`` (supernet w on the val split),
``val_top1_y`` (RARTS's y copy), ``coupling_distance`` (‖y − w‖), ``alpha`` (final raw α,
normal/reduce), ``genotype``, ``skip_connects`` ({normal, reduce}), ``skip_history``,
``stopped_early``, ``supernet_params``, ``derived`` (params/MACs of the derived network).
"""

from __future__ import annotations

import itertools
import time
from typing import Any

import numpy as np

from slimkit.artifacts import SlimModel
from slimkit.engine.checkpoint import (
    CheckpointError,
    load_latest,
    previous_path,
    rng_state,
    save_rotating,
    set_rng_state,
)
from slimkit.measure import count_macs, count_params
from slimkit.nas.config import SearchStageConfig
from slimkit.nas.plots import plot_alpha_history, plot_genotype
from slimkit.nas.search import ArchitectureSearch, SearchSettings
from slimkit.nas.supernet import DartsSupernet

__all__ = ["run_search"]


def _settings(cfg: SearchStageConfig) -> SearchSettings:
    names = SearchSettings.__dataclass_fields__
    return SearchSettings(**{k: getattr(cfg, k) for k in names})


def _alpha_snapshot(net: DartsSupernet, epoch: int) -> dict[str, Any]:
    return {
        "epoch": epoch,
        "normal": net.alphas["normal"].detach().cpu().numpy().copy(),
        "reduce": net.alphas["reduce"].detach().cpu().numpy().copy(),
    }


def run_search(ctx: Any, cfg: SearchStageConfig) -> dict[str, Any]:
    """Search α on ``ctx.model`` (a supernet), derive the genotype, optionally swap the model."""
    net = ctx.model.module
    if not isinstance(net, DartsSupernet):
        raise ValueError(
            f"stages[{ctx.stage_index}] (search): the model must be darts_supernet, got "
            f"{ctx.recipe.model.name!r} ({type(net).__name__})"
        )
    if ctx.dist.world_size > 1:
        raise ValueError(
            f"stages[{ctx.stage_index}] (search): runs on one process; start it without torchrun"
        )
    task = ctx.task
    search = ArchitectureSearch(net, _settings(cfg), task.loss, epochs=cfg.epochs)
    train = ctx.loader("train", seed_offset=ctx.stage_index)
    val = ctx.loader("val", seed_offset=ctx.stage_index + 1000, shuffle=True)
    if len(val) == 0:  # an endless cycle over nothing would hang
        raise ValueError(
            f"stages[{ctx.stage_index}] (search): the val split ({len(ctx.data.val)} images) holds "
            f"no full batch of data.batch_size {ctx.recipe.data.batch_size}; carve a larger "
            "val split or set data.drop_last: false"
        )
    per_epoch = len(train) if cfg.steps_per_epoch is None else min(len(train), cfg.steps_per_epoch)
    history = [_alpha_snapshot(net, 0)]
    epochs_log: list[dict[str, Any]] = []
    checkpoint = ctx.path("checkpoints", f"stage{ctx.stage_index}.pt")
    first = 0
    if ctx.resume and (checkpoint.is_file() or previous_path(checkpoint).is_file()):
        try:
            state, _, _ = load_latest(checkpoint, required=("search", "history", "epochs_log"))
        except CheckpointError as exc:
            ctx.echo(f"--resume: {str(exc)[:160]}; starting the search over")
            state = None
        if state is not None:
            search.load_state_dict(state["search"])
            epochs_log = state["epochs_log"]
            history = [{k: np.asarray(v) for k, v in h.items()} for h in state["history"]]
            set_rng_state(state["rng"])
            first = search.epoch
            ctx.echo(f"resumed the search of stage {ctx.stage_index} after epoch {first}")
    stopped = False
    for epoch in range(first, cfg.epochs):
        for loader in (train, val):
            if hasattr(loader, "set_epoch"):
                loader.set_epoch(epoch)
        net.train()
        if search.net_y is not None:
            search.net_y.train()
        passes0, start = search.passes, time.perf_counter()
        sums = np.zeros(2)
        val_batches = itertools.chain.from_iterable(itertools.repeat(val))
        steps = 0
        with ctx.bars.task(
            f"search {epoch + 1}/{cfg.epochs} ({cfg.method})", total=per_epoch
        ) as bar:
            for train_batch, val_batch in zip(train, val_batches, strict=False):
                if steps == per_epoch:
                    break
                losses = search.step(
                    task.to_device(train_batch, ctx.device), task.to_device(val_batch, ctx.device)
                )
                sums += (losses["train_loss"], losses["val_loss"])
                steps += 1
                bar.advance(1, loss=losses["train_loss"])
        seconds = time.perf_counter() - start
        search.end_epoch()
        genotype = net.genotype(cfg.skip_cap)
        entry = {
            "event": "search_epoch",
            "stage": ctx.stage_index,
            "stage_kind": "search",
            "epoch": epoch + 1,
            "train_loss": float(sums[0]) / max(steps, 1),
            "val_loss": float(sums[1]) / max(steps, 1),
            "seconds": seconds,
            "iterations": steps,
            "passes_per_iter": (search.passes - passes0) / max(steps, 1),
            "skip_normal": genotype.count("skip_connect", "normal"),
            "skip_reduce": genotype.count("skip_connect", "reduce"),
            "coupling_distance": search.coupling_distance(),
        }
        ctx.metrics.write(entry)
        epochs_log.append(entry)
        history.append(_alpha_snapshot(net, epoch + 1))
        ctx.echo(
            f"search epoch {epoch + 1}/{cfg.epochs} ({cfg.method}): train loss "
            f"{entry['train_loss']:.3f}, val loss {entry['val_loss']:.3f}, skips "
            f"{entry['skip_normal']}/{entry['skip_reduce']} (normal/reduce), {seconds:.0f} s"
        )
        if ctx.dist.is_main:
            save_rotating(
                {"search": search.state_dict(), "epochs_log": epochs_log, "rng": rng_state(),
                 "history": [{k: np.asarray(v).tolist() for k, v in h.items()} for h in history]},
                checkpoint,
            )  # fmt: skip
        if cfg.stop_at_skips is not None and entry["skip_normal"] >= cfg.stop_at_skips:
            ctx.echo(
                f"search stopped early: {entry['skip_normal']} skip connections in the normal "
                f"cell (stop_at_skips {cfg.stop_at_skips})"
            )
            stopped = True
            break

    genotype = net.genotype(cfg.skip_cap)
    record: dict[str, Any] = {
        "method": cfg.method,
        "epochs": len(epochs_log),
        "iterations": search.iterations,
        "passes_per_iter": search.passes / max(search.iterations, 1),
        "seconds_per_epoch": float(np.mean([e["seconds"] for e in epochs_log])),
        "seconds_per_iter": sum(e["seconds"] for e in epochs_log)
        / max(sum(e["iterations"] for e in epochs_log), 1),
        "alpha": {k: history[-1][k].tolist() for k in ("normal", "reduce")},
        "genotype": genotype.to_dict(),
        "skip_connects": {c: genotype.count("skip_connect", c) for c in ("normal", "reduce")},
        "skip_history": [[e["skip_normal"], e["skip_reduce"]] for e in epochs_log],
        "coupling_distance": search.coupling_distance(),
        "stopped_early": stopped,
        "supernet_params": count_params(net),
    }
    if cfg.evaluate_val:
        record["val_top1"] = ctx.evaluate("eval supernet (val)", split="val", model=net).headline
        if search.net_y is not None:
            record["val_top1_y"] = ctx.evaluate(
                "eval supernet y (val)", split="val", model=search.net_y
            ).headline
    if ctx.dist.is_main:
        genotype.save(ctx.path("genotype.json"))
        plots = [
            plot_genotype(genotype, ctx.path("genotype.png"), title=cfg.method),
            plot_alpha_history(history, ctx.path("search_alphas.png")),
        ]
        ctx.final.plots.extend(str(p.relative_to(ctx.run_dir)) for p in plots)
    if cfg.derive is not None:
        handle = ctx.model
        derived = SlimModel.build(
            "darts_net",
            num_classes=handle.builder["num_classes"],
            input_size=handle.input_size,
            kwargs={"genotype": genotype.to_dict(), **cfg.derive.model_dump()},
            meta={k: v for k, v in handle.meta.items() if k != "input_size"},
        )
        ctx.model = derived
        record["derived"] = {
            "model": "darts_net",
            **cfg.derive.model_dump(),
            "params": count_params(derived.module),
            "macs": count_macs(derived.module.cpu(), handle.input_size),
        }
        derived.module.to(ctx.device)
        ctx.echo(
            f"derived darts_net ({cfg.derive.cells} cells, {cfg.derive.channels} channels): "
            f"{record['derived']['params']:,} params, {record['derived']['macs']:,} MACs"
        )
    return record
