"""The recipe's ``target:`` section (torch-free: validating a recipe imports only this).

Recipe form (exactly one of ``macs``, ``params``, ``latency_ms``, ``latency``)::

    target:
      macs: 0.35                    # fraction of the dense model's MACs
      # params: 0.3                 # fraction of the dense model's parameters
      # latency_ms: {ort_bs32: 12}  # ONNX Runtime milliseconds on this machine, at batch 32
      # latency: {ort_bs32: 0.5}    # fraction of the dense latency measured at the run's start
      threads: null                 # ORT threads for latency (default: the run's)
      tolerance: 0.05               # the report's ``target.met`` allows this relative excess

Example:
    >>> TargetConfig(macs=0.35).quantity
    'macs'
    >>> TargetConfig(latency={"ort_bs32": 0.5}).batch_size
    32
    >>> from slimkit.config import validate_config
    >>> try:
    ...     validate_config(TargetConfig, {"macs": 0.3, "params": 0.3}, "target")
    ... except ValueError as e:
    ...     print(e)
    target: give exactly one of macs, params, latency_ms, latency; got macs, params
"""

from __future__ import annotations

import re

from pydantic import Field, model_validator

from slimkit.config import Config

__all__ = ["TargetConfig"]

_LATENCY_KEY = re.compile(r"^ort_bs([1-9][0-9]*)$")


class TargetConfig(Config):
    """What the final model may cost."""

    macs: float | None = Field(None, gt=0, le=1, description="fraction of the dense MACs")
    params: float | None = Field(None, gt=0, le=1, description="fraction of the dense params")
    latency_ms: dict[str, float] | None = Field(
        None, description="{ort_bs<B>: milliseconds} measured with ONNX Runtime on this machine"
    )
    latency: dict[str, float] | None = Field(
        None, description="{ort_bs<B>: fraction} of the dense latency measured at the start"
    )
    threads: int | None = Field(None, ge=1)
    tolerance: float = Field(0.05, ge=0, lt=1)

    @model_validator(mode="after")
    def _exactly_one(self) -> TargetConfig:
        given = [k for k in ("macs", "params", "latency_ms", "latency") if getattr(self, k)]
        if len(given) != 1:
            raise ValueError(
                "give exactly one of macs, params, latency_ms, latency; got "
                + (", ".join(given) or "none")
            )
        for field in ("latency_ms", "latency"):
            value = getattr(self, field)
            if value is None:
                continue
            if len(value) != 1 or not _LATENCY_KEY.match(next(iter(value))):
                raise ValueError(
                    f"{field}: expected one key ort_bs<batch>, e.g. {{ort_bs32: 0.5}}, "
                    f"got {sorted(value)}"
                )
            amount = next(iter(value.values()))
            if not amount > 0 or (field == "latency" and amount > 1):
                allowed = "a fraction in (0, 1]" if field == "latency" else "positive ms"
                raise ValueError(f"{field}: expected {allowed}, got {amount}")
        return self

    @property
    def quantity(self) -> str:
        """``macs``, ``params`` or ``latency``."""
        if self.macs is not None:
            return "macs"
        if self.params is not None:
            return "params"
        return "latency"

    @property
    def batch_size(self) -> int | None:
        """The latency target's batch size (``None`` for MACs and parameter targets)."""
        value = self.latency_ms or self.latency
        if not value:
            return None
        match = _LATENCY_KEY.match(next(iter(value)))
        assert match is not None
        return int(match.group(1))

    @property
    def key(self) -> str | None:
        """``ort_bs<B>`` for latency targets."""
        return None if self.batch_size is None else f"ort_bs{self.batch_size}"
