"""The recipe's ``model`` section (torch-free); also a distillation teacher's ``model``.

Example:
    >>> ModelConfig(name="resnet20", kwargs={"shortcut": "A"}).weights is None
    True
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from slimkit.config import Config

__all__ = ["ModelConfig"]


class ModelConfig(Config):
    """Which network to build: a zoo name, ``tv:NAME`` or ``timm:NAME``, its arguments, and
    optionally a trained checkpoint to start from (``weights``: a local state-dict file; keys are
    matched strictly, see :func:`slimkit.models.load_weights`). The normalization the checkpoint
    was trained with goes in ``data.mean``/``data.std``."""

    name: str
    kwargs: dict[str, Any] = Field(default_factory=dict)
    weights: str | None = None
