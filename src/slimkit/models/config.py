"""The recipe's ``model`` section (torch-free); also a distillation teacher's ``model``.

Example:
    >>> ModelConfig(name="resnet20", kwargs={"shortcut": "A"}).weights is None
    True
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field, field_validator

from slimkit.config import Config

__all__ = ["ModelConfig"]


class ModelConfig(Config):
    """Which network to build: a zoo name, ``tv:NAME`` or ``timm:NAME``, its arguments, and
    optionally a trained checkpoint to start from (``weights``: a local state-dict file; keys are
    matched strictly, see :func:`slimkit.models.load_weights`). The normalization the checkpoint
    was trained with goes in ``data.mean``/``data.std``."""

    name: str = Field(min_length=1)
    kwargs: dict[str, Any] = Field(default_factory=dict)
    weights: str | None = None

    @field_validator("kwargs")
    @classmethod
    def _no_data_derived_kwargs(cls, value: dict[str, Any]) -> dict[str, Any]:
        for key in ("num_classes", "in_channels"):
            if key in value:
                raise ValueError(
                    f"'{key}' is set from the dataset and task, not in model.kwargs; remove it"
                )
        return value

    @field_validator("weights")
    @classmethod
    def _weights_file_exists(cls, value: str | None) -> str | None:
        if value is not None and not Path(value).is_file():
            where = "is a directory" if Path(value).is_dir() else "does not exist"
            raise ValueError(f"the weights file {where} (relative to {Path.cwd()})")
        return value
