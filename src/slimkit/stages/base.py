"""Stage registry: a recipe's ``stages`` list names stages by ``kind``.

A stage is a config class (a :class:`~slimkit.config.Config` with a ``kind`` field) plus a run
function ``run(ctx, cfg) -> dict`` that edits ``ctx.model`` in place and returns what it measured
(the stage's entry in ``report.json``). Adding a stage is one module and one registration line.

Example:
    >>> from slimkit.stages import STAGES
    >>> sorted(STAGES.names())[:3]
    ['evaluate', 'export', 'measure']
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from slimkit.config import Config
from slimkit.registry import Registry

if TYPE_CHECKING:
    from slimkit.pipeline import RunContext


class StageConfig(Config):
    """Common fields of every stage."""

    kind: str
    name: str | None = None


@dataclass(frozen=True)
class StageSpec:
    """A registered stage: its config class and run function."""

    config: type[StageConfig]
    run: Callable[[RunContext, Any], dict[str, Any]]


STAGES: Registry[StageSpec] = Registry("stage kind")


def register_stage(
    kind: str, config: type[StageConfig]
) -> Callable[[Callable[..., dict[str, Any]]], Callable[..., dict[str, Any]]]:
    """Register ``run`` as the stage ``kind`` with config class ``config``."""

    def deco(run: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
        STAGES.register(kind)(StageSpec(config=config, run=run))
        return run

    return deco
