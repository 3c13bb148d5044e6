"""The ``darts_retrain`` training term: DARTS's auxiliary-head loss and drop-path ramp.

The official DARTS evaluation script ([code], ``quark0/darts``, ``cnn/train.py``) adds
``auxiliary_weight · CE(aux_logits, y)`` to the loss (0.4) and sets the drop-path probability to
``drop_path_prob · epoch / epochs`` at the start of each epoch (0.2 at the end). This term does
both for a :class:`slimkit.nas.network.DartsNet`, so the network itself stays a plain
``x -> logits`` module.

Example:
    >>> import torch
    >>> from slimkit.nas.network import darts_net
    >>> net = darts_net(genotype="darts_v2", cells=3, channels=8, auxiliary=True, drop_path=0.2)
    >>> term = DartsRetrain(aux_weight=0.4, drop_path=None,
    ...                     task_loss=lambda out, b: torch.nn.functional.cross_entropy(out, b[1]))
    >>> term.on_epoch_start(net, 5, 10)
    >>> net.drop_path_prob
    0.1
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from slimkit.engine.terms import TrainingTerm
from slimkit.nas.config import DartsRetrainConfig
from slimkit.nas.network import DartsNet

__all__ = ["DartsRetrain", "build_darts_retrain"]


class DartsRetrain(TrainingTerm):
    """Auxiliary loss + linear drop-path ramp (see the module docstring)."""

    def __init__(
        self,
        aux_weight: float,
        drop_path: float | None,
        task_loss: Callable[[torch.Tensor, Any], torch.Tensor],
    ) -> None:
        self.aux_weight, self.drop_path, self.task_loss = aux_weight, drop_path, task_loss

    @staticmethod
    def _net(model: nn.Module) -> DartsNet:
        if not isinstance(model, DartsNet):
            raise TypeError(
                f"darts_retrain: the model must be darts_net, got {type(model).__name__}"
            )
        return model

    def on_epoch_start(self, model: nn.Module, epoch: int, epochs: int) -> None:
        net = self._net(model)
        final = net.drop_path_max if self.drop_path is None else self.drop_path
        net.drop_path_prob = final * epoch / epochs

    def loss(self, model: nn.Module, batch: Any, outputs: torch.Tensor) -> torch.Tensor | None:
        aux = self._net(model).aux_logits
        if aux is None or self.aux_weight == 0:
            return None
        return self.aux_weight * self.task_loss(aux, batch)

    def on_train_end(self, model: nn.Module) -> None:
        self._net(model).drop_path_prob = 0.0

    def epoch_metrics(self, model: nn.Module) -> dict[str, float]:
        return {"drop_path_prob": float(self._net(model).drop_path_prob)}


def build_darts_retrain(cfg: DartsRetrainConfig, model: nn.Module, ctx: Any = None) -> DartsRetrain:
    """Recipe factory of the ``darts_retrain`` term (the auxiliary loss is the task's loss)."""
    if not isinstance(model, DartsNet):
        raise ValueError(
            f"terms (darts_retrain): the model must be darts_net, got {type(model).__name__}"
        )
    if ctx is not None:
        return DartsRetrain(cfg.aux_weight, cfg.drop_path, ctx.task.loss)
    return DartsRetrain(
        cfg.aux_weight, cfg.drop_path, lambda out, batch: nn.functional.cross_entropy(out, batch[1])
    )
