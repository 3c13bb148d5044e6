"""Recipe settings of the ``trp`` training term (Trained Rank Pruning), torch-free.

Example:
    >>> TRPConfig(energy=0.5).period
    5
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from slimkit.engine.config import TermConfig

__all__ = ["TRPConfig"]


class TRPConfig(TermConfig):
    """Recipe settings of the ``trp`` training term."""

    name: Literal["trp"] = "trp"
    energy: float = Field(0.9, gt=0, le=1, description="e: energy ratio of each projection")
    period: int = Field(5, ge=1, description="m: project every m steps (code default 1)")
    nuclear: float = Field(0.0, ge=0, description="λ of the nuclear-norm subgradient (3e-4)")
    project: bool = Field(True, description="false: nuclear-norm-only baseline (full U Vᵀ)")
    scheme: Literal["channel", "spatial"] = "spatial"
    layers: list[str] | None = Field(None, description="layer names (null: eligible_layers)")
    include_linear: bool = False
    include_strided: bool = True
    final_projection: bool = Field(False, description="project once more after the last step")
    spectra_layers: int = Field(3, ge=0, description="layers whose spectra are plotted")
    log_ranks: bool = Field(True, description="metrics.jsonl line when ranks change")

    @model_validator(mode="after")
    def _needs_something(self) -> TRPConfig:
        if not self.project and self.nuclear == 0:
            raise ValueError("project: false (nuclear-only) needs nuclear > 0, got nuclear 0")
        return self
