"""The ``train`` stage: train the current model with optional training terms.

Recipe form::

    - kind: train
      epochs: 30
      optimizer: {name: sgd, lr: 0.1, momentum: 0.9, nesterov: true, weight_decay: 5.0e-4}
      schedule: {name: cosine, warmup_epochs: 1}
      label_smoothing: 0.0
      terms: []          # training terms by name (sparsity, low rank, distillation, QAT...)

Report fields: ``epochs``, ``steps``, ``top1`` (test top-1 after the stage), ``train_loss``,
``test_loss``, ``images_per_s`` (mean over epochs), plus every term's last epoch metrics.
"""

from __future__ import annotations

import inspect
from typing import Any, Literal

from pydantic import Field, SerializeAsAny

from slimkit.engine.loop import Trainer
from slimkit.engine.optim import OptimizerConfig, ScheduleConfig
from slimkit.engine.terms import TERMS, TermConfig
from slimkit.stages.config import TrainStageConfig


def build_term(cfg: TermConfig, model: Any, ctx: Any = None) -> Any:
    """Build the registered term ``cfg.name``; factories that take a third parameter ``ctx``
    also get the run context (e.g. a distillation term loading a teacher saved by an earlier
    stage, or a term reading the data's normalization)."""
    build = TERMS.get(cfg.name).build
    if "ctx" in inspect.signature(build).parameters:
        return build(cfg, model, ctx=ctx)
    return build(cfg, model)


def run_train(ctx: Any, cfg: TrainStageConfig) -> dict[str, Any]:
    """Train ``ctx.model`` in place; return the stage's report entry."""
    model = ctx.model.module
    terms = [build_term(t, model, ctx) for t in cfg.terms]
    trainer = Trainer(
        model,
        ctx.train_loader(seed_offset=ctx.stage_index),
        ctx.test_loader(),
        epochs=cfg.epochs,
        optimizer=cfg.optimizer,
        schedule=cfg.schedule,
        label_smoothing=cfg.label_smoothing,
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
    ctx.top1 = result.top1
    if ctx.dist.is_main:
        for term in terms:
            paths = term.plots(ctx.run_dir, tag=f"_stage{ctx.stage_index}")
            ctx.plots.extend(str(p.relative_to(ctx.run_dir)) for p in paths)
    rates = [h["images_per_s"] for h in result.history if "images_per_s" in h]
    record: dict[str, Any] = {
        "epochs": result.epochs,
        "steps": result.steps,
        "top1": result.top1,
        "train_loss": result.train_loss,
        "test_loss": result.test_loss,
        "images_per_s": sum(rates) / len(rates) if rates else None,
    }
    last = result.history[-1] if result.history else {}
    base = {"event", "stage", "stage_kind", "epoch", "step", "lr", "seconds", "images_per_s"}
    base |= {"test_top1", "test_loss"}
    record.update({k: v for k, v in last.items() if k not in base and k not in record})
    return record
