"""The training loop: optimizer, schedule, training terms, checkpoints, DDP, evaluation.

Each step runs the task's forward and loss (:mod:`slimkit.tasks`: cross-entropy for
classification, a regression loss, a detector's loss dict...) plus every term's ``loss``, backward, every term's ``before_step``, the optimizer step, then every term's
``after_step(model, lr)``. At the end of each epoch the model is evaluated on the
validation split (when there is one) and the test split, each metric logged as ``val_<name>`` and
``test_<name>``, and a checkpoint with
model, optimizer, step, RNG and term states is written atomically, so ``resume=True`` continues
bit-exactly from the last finished epoch. A non-finite loss stops training with
:class:`TrainingDiverged` and leaves the last good checkpoint in place.

Example:
    >>> import torch
    >>> from torch import nn
    >>> from slimkit.engine.optim import OptimizerConfig, ScheduleConfig
    >>> x, y = torch.randn(64, 8), torch.randint(0, 2, (64,))
    >>> batches = [(x[i:i + 16], y[i:i + 16]) for i in range(0, 64, 16)]
    >>> trainer = Trainer(nn.Linear(8, 2), batches, batches, epochs=2,
    ...                   optimizer=OptimizerConfig(lr=0.1), schedule=ScheduleConfig())
    >>> result = trainer.fit()
    >>> result.epochs, 0.0 <= result.top1 <= 1.0
    (2, True)
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from slimkit.engine.checkpoint import (
    CheckpointError,
    load_latest,
    previous_path,
    rng_state,
    save_rotating,
    set_rng_state,
)
from slimkit.engine.distributed import DistInfo, all_reduce_sum, barrier
from slimkit.engine.evaluate import EvalResult, autocast_context, default_task, evaluate
from slimkit.engine.metrics import MetricsLog
from slimkit.engine.optim import (
    LRSchedule,
    OptimizerConfig,
    ScheduleConfig,
    build_optimizer,
    set_lr,
)
from slimkit.engine.progress import ProgressBars
from slimkit.engine.terms import TrainingTerm


class TrainingDiverged(RuntimeError):
    """The loss became NaN or Inf; the message says where and which checkpoint is intact."""


@dataclass
class TrainResult:
    """What a finished training run measured."""

    top1: float
    test_loss: float
    train_loss: float
    epochs: int
    steps: int
    seconds: float
    metrics: dict[str, float] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)


class Trainer:
    """Train ``model`` on ``train_loader``, evaluating on ``test_loader`` every epoch.

    Args:
        model: the network (already on ``device``; channels_last if wanted).
        train_loader: yields ``(x, y)`` batches; ``set_epoch(e)`` is called when it exists.
        test_loader: evaluation batches (this rank's shard under DDP).
        task: the learning problem (:class:`slimkit.tasks.base.Task`; default classification).
        val_loader: validation batches (evaluated with the test batches; logged as ``val_*``).
        epochs: number of epochs.
        optimizer: optimizer settings.
        schedule: learning-rate schedule settings.
        terms: training terms (sparsity, low rank, distillation, QAT...).
        device: where tensors go.
        dist: rank information; with ``world_size > 1`` the model is wrapped in DDP.
        amp: bfloat16 autocast on CUDA.
        log_every: steps between ``metrics.jsonl`` step lines (and finiteness checks).
        metrics: the run's metrics log (``None``: no logging).
        bars: progress bars.
        checkpoint_path: where the per-epoch checkpoint goes (``None``: no checkpoints).
        stage_index: the stage's index in the recipe, written into metrics lines.
        echo: prints one line per epoch (rank 0).
        eval_every: evaluate every this many epochs (and always after the last one).
    """

    def __init__(
        self,
        model: nn.Module,
        train_loader: Iterable[tuple[torch.Tensor, torch.Tensor]],
        test_loader: Iterable[tuple[torch.Tensor, torch.Tensor]] | None,
        *,
        epochs: int,
        optimizer: OptimizerConfig,
        schedule: ScheduleConfig,
        task: Any = None,
        val_loader: Iterable[Any] | None = None,
        terms: Sequence[TrainingTerm] = (),
        device: torch.device | str = "cpu",
        dist: DistInfo | None = None,
        amp: bool = False,
        log_every: int = 20,
        metrics: MetricsLog | None = None,
        bars: ProgressBars | None = None,
        checkpoint_path: str | Path | None = None,
        stage_index: int = 0,
        echo: Callable[[str], None] | None = None,
        eval_every: int = 1,
    ) -> None:
        self.model = model
        self.train_loader = train_loader
        self.test_loader = test_loader
        self.epochs = epochs
        self.terms = list(terms)
        self.device = torch.device(device)
        self.dist = dist or DistInfo()
        self.amp = amp
        self.log_every = log_every
        self.metrics = metrics or MetricsLog(None)
        self.bars = bars or ProgressBars(enabled=False)
        self.checkpoint_path = Path(checkpoint_path) if checkpoint_path is not None else None
        self.stage_index = stage_index
        self.echo = echo or (lambda line: None)
        self.task = task if task is not None else default_task()
        self.val_loader = val_loader
        self.eval_every = max(1, eval_every)
        self.optimizer = build_optimizer(model, optimizer)
        self.grad_clip = optimizer.grad_clip
        self.schedule = LRSchedule(schedule, optimizer.lr, len(train_loader), epochs)  # type: ignore[arg-type]
        self.history: list[dict[str, Any]] = []
        # a term may weight or drop the task loss on labels (``task_loss_weight``; 0: the
        # labels never reach the loss, e.g. label-free distillation)
        self.task_loss_weight = math.prod(
            float(getattr(t, "task_loss_weight", 1.0)) for t in self.terms
        )

    # -- checkpoints -------------------------------------------------------------------------

    def _save(self, epoch: int, step: int) -> None:
        if self.checkpoint_path is None:
            return
        if self.dist.is_main:
            save_rotating(
                {
                    "model": self.model.state_dict(),
                    "optimizer": self.optimizer.state_dict(),
                    "terms": [t.state_dict() for t in self.terms],
                    "rng": rng_state(),
                    "epoch": epoch,
                    "step": step,
                    "history": self.history,
                },
                self.checkpoint_path,
            )
        barrier(self.dist)

    def _restore(self) -> tuple[int, int] | None:
        """Load the newest usable checkpoint (falling back to the previous one when the newest
        is damaged); ``None`` when neither is usable, so the stage starts from its beginning."""
        assert self.checkpoint_path is not None
        keys = ("model", "optimizer", "terms", "rng", "epoch", "step", "history")
        try:
            state, used, skipped = load_latest(self.checkpoint_path, keys)
        except CheckpointError as exc:
            self.echo(f"{exc}; restarting stage {self.stage_index} from its beginning")
            return None
        if skipped:
            self.echo(f"skipped {skipped}; resuming from {used}")
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        if len(state["terms"]) != len(self.terms):
            raise ValueError(
                f"checkpoint {self.checkpoint_path} holds {len(state['terms'])} training terms, "
                f"the recipe has {len(self.terms)}; resume with the same recipe"
            )
        for term, term_state in zip(self.terms, state["terms"], strict=True):
            term.load_state_dict(term_state)
        set_rng_state(state["rng"])
        self.history = list(state["history"])
        return int(state["epoch"]), int(state["step"])

    # -- training ----------------------------------------------------------------------------

    def fit(self, resume: bool = False) -> TrainResult:
        """Train for the configured epochs (continuing from the checkpoint when ``resume``)."""
        start = time.perf_counter()
        first_epoch, step = 0, 0
        if len(self.train_loader) == 0:  # type: ignore[arg-type]
            raise ValueError(
                "data.batch_size: the training loader has no batch on this process "
                "(the training set is smaller than one batch); lower data.batch_size"
            )
        restored = None
        if (
            resume
            and self.checkpoint_path is not None
            and (self.checkpoint_path.is_file() or previous_path(self.checkpoint_path).is_file())
        ):
            restored = self._restore()
        if restored is not None:
            first_epoch, step = restored
            self.echo(f"resumed stage {self.stage_index} after epoch {first_epoch}")
        else:
            for term in self.terms:
                term.on_train_start(self.model)
        net: nn.Module = self.model
        if self.dist.enabled:
            ids = [self.device.index] if self.device.type == "cuda" else None
            net = DistributedDataParallel(self.model, device_ids=ids)
        for epoch in range(first_epoch, self.epochs):
            step = self._train_epoch(net, epoch, step)
            self._save(epoch + 1, step)
        for term in self.terms:
            term.on_train_end(self.model)
        last = self.history[-1] if self.history else {}
        final = self._evaluate(self.test_loader, self.epochs) if self.terms else None
        if final is not None:
            metrics = dict(final.metrics)
        else:
            metrics = {k[5:]: v for k, v in last.items() if k.startswith("test_")}
        return TrainResult(
            top1=float(metrics.get("top1", float("nan"))),
            test_loss=float(metrics.get("loss", float("nan"))),
            metrics=metrics,
            train_loss=float(last.get("train_loss", float("nan"))),
            epochs=self.epochs,
            steps=step,
            seconds=time.perf_counter() - start,
            history=self.history,
        )

    def _evaluate_val_then_test(self, epoch: int) -> dict[str, float]:
        """``val_*`` and ``test_*`` metrics of an epoch. The validation pass runs first, through
        :meth:`Task.calibrate` when the task picks a setting there (e.g. a decision threshold),
        so the test pass uses what it picked."""
        record: dict[str, float] = {}
        if self.val_loader is not None:
            runs: list[EvalResult] = []

            def run_val() -> dict[str, float]:
                runs.append(self._evaluate(self.val_loader, epoch, "val"))  # type: ignore[arg-type]
                return runs[-1].metrics

            self.task.calibrate(run_val)
            val = runs[-1] if runs else self._evaluate(self.val_loader, epoch, "val")
            record.update({f"val_{k}": v for k, v in val.metrics.items()})  # type: ignore[union-attr]
        test = self._evaluate(self.test_loader, epoch, "test")
        if test is not None:
            record.update({f"test_{k}": v for k, v in test.metrics.items()})
        return record

    def _evaluate(
        self, loader: Iterable[Any] | None, epoch: int, split: str = "test"
    ) -> EvalResult | None:
        if loader is None:
            return None
        return evaluate(
            self.model,
            loader,
            task=self.task,
            device=self.device,
            dist=self.dist,
            amp=self.amp,
            bars=self.bars,
            description=f"{split} {epoch}",
        )

    def _check_finite(self, loss_sum: torch.Tensor, epoch: int, step: int) -> None:
        # every rank checks the sum over all ranks, so all of them stop together
        value = float(all_reduce_sum(loss_sum.detach().clone(), self.dist))
        if not math.isfinite(value):
            where = f"stage {self.stage_index} epoch {epoch + 1} step {step}"
            kept = (
                f"last good checkpoint: {self.checkpoint_path}"
                if self.checkpoint_path is not None and self.checkpoint_path.is_file()
                else "no checkpoint was written yet"
            )
            raise TrainingDiverged(
                f"training diverged: loss is {value} at {where}; {kept} (lower the learning rate?)"
            )

    def _train_epoch(self, net: nn.Module, epoch: int, step: int) -> int:
        model, optimizer, task = self.model, self.optimizer, self.task
        if hasattr(self.train_loader, "set_epoch"):
            self.train_loader.set_epoch(epoch)  # type: ignore[union-attr]
        model.train()
        for term in self.terms:
            term.on_epoch_start(model, epoch, self.epochs)
        epoch_start = time.perf_counter()
        sums = torch.zeros(2, dtype=torch.float64, device=self.device)  # loss sum, count
        train_metric = task.train_metric(self.device)
        window = torch.zeros((), dtype=torch.float64, device=self.device)
        window_steps = 0
        lr = self.schedule(step)
        total = len(self.train_loader) * getattr(self.train_loader, "batch_size", 1)  # type: ignore[arg-type]
        with self.bars.task(f"epoch {epoch + 1}/{self.epochs}", total=total) as bar:
            for batch in self.train_loader:
                batch = task.to_device(batch, self.device)
                lr = self.schedule(step)
                set_lr(optimizer, lr)
                with autocast_context(self.device, self.amp):
                    if self.task_loss_weight == 0.0:  # label-free: labels never reach the loss
                        out = task.forward(net, batch)
                        loss = torch.zeros((), device=self.device)
                    else:
                        task_loss, out = task.train_step(net, batch)
                        loss = task_loss.float()
                        if self.task_loss_weight != 1.0:
                            loss = self.task_loss_weight * loss
                    for term in self.terms:
                        extra = term.loss(model, batch, out)
                        if extra is not None:
                            loss = loss + extra
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                for term in self.terms:
                    term.before_step(model)
                if self.grad_clip is not None:  # after the terms: they add to the gradients
                    torch.nn.utils.clip_grad_norm_(model.parameters(), self.grad_clip)
                optimizer.step()
                for term in self.terms:
                    term.after_step(model, lr)
                step += 1
                detached = loss.detach().double()
                n = task.batch_len(batch)
                sums[0] += detached * n
                sums[1] += n
                if train_metric is not None:
                    train_metric.update(out.detach(), batch)
                window += detached
                window_steps += 1
                if step % self.log_every == 0:
                    self._check_finite(window, epoch, step)
                    mean = float(window) / window_steps
                    self.metrics.write(
                        {
                            "event": "step",
                            "stage": self.stage_index,
                            "stage_kind": "train",
                            "epoch": epoch + 1,
                            "step": step,
                            "loss": mean,
                            "lr": lr,
                        }
                    )
                    bar.advance(n, loss=mean, lr=lr)
                    window.zero_()
                    window_steps = 0
                else:
                    bar.advance(n)
        self._check_finite(sums[0], epoch, step)
        train_loss, count = sums.tolist()
        seconds = time.perf_counter() - epoch_start
        record: dict[str, Any] = {
            "event": "epoch",
            "stage": self.stage_index,
            "stage_kind": "train",
            "epoch": epoch + 1,
            "step": step,
            "train_loss": train_loss / max(1, count),
            "lr": lr,
            "seconds": seconds,
            "images_per_s": count * self.dist.world_size / max(1e-9, seconds),
        }
        if train_metric is not None:
            # this rank's samples only: a cheap running figure, not an evaluation
            record.update({f"train_{k}": v for k, v in train_metric.compute().items()})
        last_epoch = epoch + 1 == self.epochs
        due = last_epoch or (epoch + 1) % self.eval_every == 0
        if due:
            record.update(self._evaluate_val_then_test(epoch + 1))
        for term in self.terms:
            record.update(term.epoch_metrics(model))
        self.history.append(record)
        self.metrics.write(record)
        head = task.headline
        shown = "".join(
            f"{split} {head} {record[f'{split}_{head}']:.4f}  "
            for split in ("val", "test")
            if f"{split}_{head}" in record
        )
        self.echo(
            f"epoch {epoch + 1}/{self.epochs}  loss {record['train_loss']:.4f}  {shown}"
            f"{record['images_per_s']:.0f} img/s  {seconds:.1f}s"
        )
        return step
