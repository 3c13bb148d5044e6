"""The ``train`` stage: train the current model with optional training terms.

Recipe form::

    - kind: train
      epochs: 30
      optimizer: {name: sgd, lr: 0.1, momentum: 0.9, nesterov: true, weight_decay: 5.0e-4}
      schedule: {name: cosine, warmup_epochs: 1}
      terms: []          # training terms by name (sparsity, low rank, distillation, QAT...)

The task (``recipe.task``) supplies the loss and the metrics. Report fields: ``epochs``,
``steps``, the task's headline metric on the test split under its own name (``top1`` for
classification), ``metrics`` (all test metrics), ``val_metrics`` (when the recipe carves a
validation split), ``train_loss``, ``test_loss``, ``images_per_s`` (mean over epochs), plus every
term's last epoch metrics.
"""

from __future__ import annotations

from typing import Any

from slimkit.engine.loop import Trainer
from slimkit.engine.terms import TERMS, TermConfig
from slimkit.stages.config import TrainStageConfig


def build_term(cfg: TermConfig, model: Any, ctx: Any = None) -> Any:
    """Build the registered term ``cfg.name``: every factory is ``build(cfg, model, ctx)``,
    where ``ctx`` is a :class:`slimkit.contexts.TermContext` or ``None`` outside a run (a
    distillation term loads a teacher saved by an earlier stage through it)."""
    return TERMS.get(cfg.name).build(cfg, model, ctx)


def run_train(ctx: Any, cfg: TrainStageConfig) -> dict[str, Any]:
    """Train ``ctx.model`` in place; return the stage's report entry."""
    model = ctx.model.module
    terms = [build_term(t, model, ctx) for t in cfg.terms]
    trainer = Trainer(
        model,
        ctx.loader("train", seed_offset=ctx.stage_index),
        ctx.loader("test"),
        epochs=cfg.epochs,
        optimizer=cfg.optimizer,
        schedule=cfg.schedule,
        task=ctx.task,
        val_loader=ctx.loader("val") if "val" in ctx.splits() else None,
        terms=terms,
        device=ctx.device,
        dist=ctx.dist,
        amp=ctx.recipe.runtime.amp,
        log_every=ctx.recipe.runtime.log_every,
        metrics=ctx.metrics,
        bars=ctx.bars,
        checkpoint_path=ctx.path("checkpoints", f"stage{ctx.stage_index}.pt"),
        stage_index=ctx.stage_index,
        echo=ctx.echo,
        eval_every=cfg.eval_every,
    )
    result = trainer.fit(resume=ctx.resume)
    head = ctx.task.headline
    if result.metrics:
        ctx.final.metrics = dict(result.metrics)
        ctx.final.headline = {"name": head, "value": result.metrics[head]}
    if ctx.dist.is_main:
        for term in terms:
            paths = term.plots(ctx.run_dir, tag=f"_stage{ctx.stage_index}")
            ctx.final.plots.extend(str(p.relative_to(ctx.run_dir)) for p in paths)
    rates = [h["images_per_s"] for h in result.history if "images_per_s" in h]
    last = result.history[-1] if result.history else {}
    record: dict[str, Any] = {
        "epochs": result.epochs,
        "steps": result.steps,
        head: result.metrics.get(head),
        "metrics": dict(result.metrics),
        "train_loss": result.train_loss,
        "test_loss": result.test_loss,
        "images_per_s": sum(rates) / len(rates) if rates else None,
    }
    val = {k[4:]: v for k, v in last.items() if k.startswith("val_")}
    if val:
        record["val_metrics"] = val
    base = {"event", "stage", "stage_kind", "epoch", "step", "lr", "seconds", "images_per_s"}
    evaluated = {k for k in last if k.startswith(("test_", "val_"))}
    record.update({k: v for k, v in last.items() if k not in base | evaluated and k not in record})
    for term in terms:
        record.update(term.summary())
        if ctx.dist.is_main:
            for notice in term.notices():
                ctx.echo(notice)
    return record
