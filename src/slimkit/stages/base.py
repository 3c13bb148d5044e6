"""Stage registry: a recipe's ``stages`` list names stages by ``kind``.

A stage is a config class (a :class:`~slimkit.config.Config` with a ``kind`` field, in a
torch-free module) plus a run function ``run(ctx, cfg) -> dict`` that edits ``ctx.model`` in place
and returns what it measured (the stage's entry in ``report.json``). Built-in stages are declared
in :mod:`slimkit.builtins` (config in :mod:`slimkit.stages.config`, run in
``slimkit.stages.<kind>``); :func:`register_stage` registers your own eagerly.

Example:
    >>> from slimkit.stages import STAGES
    >>> sorted(STAGES.names())[:3]
    ['evaluate', 'export', 'factorize']
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slimkit.registry import STAGES, Spec
from slimkit.stages.config import StageConfig

__all__ = ["STAGES", "StageConfig", "StageSpec", "register_stage"]

StageSpec = Spec  # a registered stage: ``.config`` (light) and ``.run(ctx, cfg)`` (heavy)


def register_stage(
    kind: str, config: type[StageConfig]
) -> Callable[[Callable[..., dict[str, Any]]], Callable[..., dict[str, Any]]]:
    """Register ``run`` as the stage ``kind`` with config class ``config``."""

    def deco(run: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
        STAGES.declare(kind, config=config, run=run)
        return run

    return deco
