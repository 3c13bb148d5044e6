"""Training terms: how a method changes training (DESIGN.md, "Training terms").

A term has at most three per-step hooks, called by the loop in this order each step:

1. ``loss(model, batch, outputs)``: an extra loss term (or ``None``), e.g. distillation;
2. ``before_step(model)``: edit gradients after backward, e.g. a subgradient;
3. ``after_step(model, lr)``: change parameters after the optimizer step, e.g. a proximal map.

Terms own their state (auxiliary variables, masks) and round-trip it through ``state_dict`` /
``load_state_dict``, which the checkpoint stores. ``on_train_start``/``on_train_end`` bracket a
train stage (e.g. copy an auxiliary variable into the weights at the end), ``on_epoch_start``
opens each epoch (e.g. a drop-path ramp), ``epoch_metrics`` returns scalars logged per epoch
(e.g. sparsity) and ``plots`` draws the term's own figures. The same objects work in a user's
own loop:

Example:
    >>> import torch
    >>> class L2(TrainingTerm):
    ...     def loss(self, model, batch, outputs):
    ...         return 1e-4 * sum((p ** 2).sum() for p in model.parameters())
    >>> model = torch.nn.Linear(4, 2)
    >>> terms = [L2()]
    >>> x, y = torch.randn(8, 4), torch.randint(0, 2, (8,))
    >>> out = model(x)
    >>> loss = torch.nn.functional.cross_entropy(out, y) + sum(
    ...     t.loss(model, (x, y), out) for t in terms)
    >>> loss.backward()
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from slimkit.engine.config import TermConfig
from slimkit.registry import TERMS, Spec

__all__ = ["TERMS", "TermConfig", "TermSpec", "TrainingTerm", "register_term"]


class TrainingTerm:
    """Base class with no-op hooks; subclasses override what they need.

    ``task_loss_weight`` scales the loop's cross-entropy on labels (the product over the terms of
    a stage); a term that sets it to 0 keeps the labels out of the loss entirely (label-free
    distillation).
    """

    task_loss_weight: float = 1.0

    def on_train_start(self, model: nn.Module) -> None:
        """Called once before the first step of a fresh train stage (a resumed stage restores
        the term's state with :meth:`load_state_dict` instead)."""

    def on_epoch_start(self, model: nn.Module, epoch: int, epochs: int) -> None:
        """Called before each epoch (``epoch`` counts from 0 of ``epochs``), also on resume;
        e.g. a schedule that depends on training progress (drop-path ramp)."""

    def loss(
        self, model: nn.Module, batch: tuple[torch.Tensor, torch.Tensor], outputs: torch.Tensor
    ) -> torch.Tensor | None:
        """Extra loss added to the task loss (``None``: nothing)."""
        return None

    def before_step(self, model: nn.Module) -> None:
        """Edit gradients after backward, before the optimizer step."""

    def after_step(self, model: nn.Module, lr: float) -> None:
        """Edit parameters after the optimizer step; ``lr`` is the step's learning rate."""

    def on_train_end(self, model: nn.Module) -> None:
        """Called once after the last step of a train stage."""

    def epoch_metrics(self, model: nn.Module) -> dict[str, float]:
        """Scalars logged with each epoch (e.g. ``{"sparsity": 0.4}``)."""
        return {}

    def summary(self) -> dict[str, Any]:
        """Plain data for the train stage's report record, read after :meth:`on_train_end`
        (e.g. what the term did to the weights at the end)."""
        return {}

    def notices(self) -> list[str]:
        """One-line messages the run prints after :meth:`on_train_end` (e.g. a fallback)."""
        return []

    def plots(self, out_dir: Path, tag: str = "") -> list[Path]:
        """Write the term's own PNG plots into ``out_dir`` after training (``tag`` goes into the
        file names, e.g. ``_stage0``); return their paths."""
        return []

    def state_dict(self) -> dict[str, Any]:
        """State saved in checkpoints (tensors and plain data only)."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`."""


TermSpec = Spec  # a registered term: ``.config`` (light) and ``.build(cfg, model, ctx)`` (heavy)
TermFactory = Callable[[Any, nn.Module, Any], TrainingTerm]


def register_term(name: str, config: type[TermConfig]) -> Callable[[TermFactory], TermFactory]:
    """Register a term factory ``build(cfg, model, ctx) -> TrainingTerm`` under ``name``.

    ``ctx`` is a :class:`slimkit.contexts.TermContext` inside a run and ``None`` in a user's own
    loop.

    Built-in terms are declared lazily in :mod:`slimkit.builtins` instead; this decorator is for
    your own code and plugins. The config class should live in a torch-free module so that
    validating a recipe imports no torch.
    """

    def deco(build: TermFactory) -> TermFactory:
        TERMS.declare(name, config=config, build=build)
        return build

    return deco
