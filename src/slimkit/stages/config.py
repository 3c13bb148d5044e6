"""Recipe settings of every built-in stage (torch-free: validating a recipe imports only this).

Each class documents its stage's recipe form in the module that runs it
(:mod:`slimkit.stages.train`, :mod:`slimkit.stages.prune`, ...).

Example:
    >>> TrainStageConfig(epochs=2).optimizer.name
    'sgd'
    >>> from slimkit.config import validate_config
    >>> try:
    ...     validate_config(PruneStageConfig, {"rule": "threshold"}, "stages[1]")
    ... except ValueError as e:
    ...     print(e)
    stages[1]: rule 'threshold' needs 'percent' (fraction of channels, e.g. 0.5)
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import AfterValidator, Field, PositiveInt, SerializeAsAny, model_validator

from slimkit.config import Config
from slimkit.engine.config import OptimizerConfig, ScheduleConfig, TermConfig
from slimkit.measure.opsets import exporter_opsets
from slimkit.registry import TERMS

__all__ = [
    "EvaluateStageConfig",
    "ExportStageConfig",
    "FactorizeStageConfig",
    "Int8StageConfig",
    "MeasureStageConfig",
    "PruneStageConfig",
    "QuantizeStageConfig",
    "StageConfig",
    "TrainStageConfig",
]


def _exporter_writes(value: int) -> int:
    low, high = exporter_opsets()
    if not max(low, 11) <= value <= high:
        raise ValueError(f"the installed torch ONNX exporter writes opsets {max(low, 11)}..{high}")
    return value


def _plain_onnx_name(value: str) -> str:
    if not value.endswith(".onnx") or "/" in value or "\\" in value or value.startswith("."):
        raise ValueError("expected a plain file name ending in .onnx, e.g. model.onnx")
    return value


# an opset the installed exporter writes; a file name inside the run directory
ExporterOpset = Annotated[int, AfterValidator(_exporter_writes)]
OnnxFileName = Annotated[str, AfterValidator(_plain_onnx_name)]


class StageConfig(Config):
    """Common fields of every stage."""

    kind: str
    name: str | None = None
    #: the stage trains on a validation split carved from the training set (``search``)
    needs_val_split: ClassVar[bool] = False


class TrainStageConfig(StageConfig):
    """Settings of a ``train`` stage."""

    kind: Literal["train"] = "train"
    epochs: int = Field(ge=1)
    optimizer: OptimizerConfig = Field(default_factory=OptimizerConfig)
    schedule: ScheduleConfig = Field(default_factory=ScheduleConfig)
    terms: list[SerializeAsAny[TermConfig]] = Field(default_factory=list)
    eval_every: int = Field(1, ge=1)

    dispatch = {"terms": (TERMS, "name")}

    @model_validator(mode="after")
    def _terms_fit_optimizer(self) -> TrainStageConfig:
        for index, term in enumerate(self.terms):
            problem = term.optimizer_problem(self.optimizer.name)
            if problem:
                raise ValueError(f"terms[{index}] ({term.name}): {problem}")
        return self


class EvaluateStageConfig(StageConfig):
    """Settings of an ``evaluate`` stage (none beyond the common ones)."""

    kind: Literal["evaluate"] = "evaluate"


class ExportStageConfig(StageConfig):
    """Settings of an ``export`` stage."""

    kind: Literal["export"] = "export"
    opset: ExporterOpset = 17
    tolerance: float | None = Field(1e-3, gt=0)
    filename: OnnxFileName = "model.onnx"
    qdq_tolerance: float | None = Field(None, gt=0)
    qdq_min_agreement: float | None = Field(0.99, ge=0, le=1)
    qdq_check_images: int = Field(256, ge=1)
    fft: Literal["auto", "dft", "matmul"] = Field(
        "auto",
        description="models with FFTs: ONNX DFT ops (dft), exact DFT-matrix products (matmul), "
        "or dft with a fallback to matmul (auto)",
    )


class MeasureStageConfig(StageConfig):
    """Settings of a ``measure`` stage."""

    kind: Literal["measure"] = "measure"
    batch_sizes: list[PositiveInt] = Field(default_factory=lambda: [1, 32], min_length=1)
    threads: int | None = Field(None, ge=1)
    warmup: int = Field(5, ge=0)
    repeats: int = Field(20, ge=1)
    runtimes: list[Literal["torch", "ort"]] = Field(default_factory=lambda: ["torch", "ort"])


class PruneStageConfig(StageConfig):
    """Settings of a ``prune`` stage."""

    kind: Literal["prune"] = "prune"
    rule: Literal["zeros", "threshold", "macs", "zero_filters", "target", "dims"] = "zeros"
    percent: float | None = Field(None, ge=0, lt=1)
    macs_target: float | None = Field(None, gt=0, le=1)
    share: float | None = Field(
        None,
        gt=0,
        le=1,
        description="rule target: this stage's cumulative share of the dense value",
    )
    channel_selection: bool = Field(
        False,
        description="also prune each BN that reads a shared tensor for its own readers "
        "(Network Slimming's channel selection, pre-activation networks)",
    )
    min_channels: int = Field(1, ge=1)
    min_fraction: float = Field(0.0, ge=0, lt=1)
    round_to: int = Field(1, ge=1)
    budget: float | None = Field(
        None, gt=0, lt=1, description="rule dims: fraction of budget_metric to remove (null: zeros)"
    )
    budget_metric: Literal["params", "macs"] = "params"
    importance: Literal["gates", "l1"] = Field(
        "gates", description="rule dims: dim_search gates, or the l1 weight-magnitude baseline"
    )
    allocation: Literal["per_layer", "global"] = "per_layer"
    kinds: list[Literal["embed", "heads", "mlp"]] | None = Field(
        None, description="rule dims: dimension kinds to prune (null: all the model has)"
    )

    @model_validator(mode="after")
    def _rule_needs(self) -> PruneStageConfig:
        if self.rule == "threshold" and self.percent is None:
            raise ValueError("rule 'threshold' needs 'percent' (fraction of channels, e.g. 0.5)")
        if self.rule == "macs" and self.macs_target is None:
            raise ValueError("rule 'macs' needs 'macs_target' (fraction of MACs kept, e.g. 0.5)")
        return self


class FactorizeStageConfig(StageConfig):
    """Settings of a ``factorize`` stage."""

    kind: Literal["factorize"] = "factorize"
    scheme: Literal["spatial", "channel"] = "spatial"
    rule: Literal["energy", "relative", "macs", "target"] = "energy"
    share: float | None = Field(
        None,
        gt=0,
        le=1,
        description="rule target: this stage's cumulative share of the dense value",
    )
    energy: float | None = Field(None, gt=0, le=1)
    tau: float | None = Field(None, ge=0, le=1)
    macs_target: float | None = Field(None, gt=0, le=1)
    rank_multiple: int = Field(16, ge=1)
    max_cost_ratio: float = Field(0.8, gt=0)
    min_rank: int = Field(1, ge=1)
    layers: list[str] | None = None
    include_linear: bool = False
    include_strided: bool = True

    def plan_options(self) -> dict[str, Any]:
        """The ``plan_factorization`` arguments that this stage fixes whatever the rule."""
        return {
            "scheme": self.scheme,
            "layers": self.layers,
            "include_linear": self.include_linear,
            "include_strided": self.include_strided,
            "rank_multiple": self.rank_multiple,
            "max_cost_ratio": self.max_cost_ratio,
            "min_rank": self.min_rank,
        }

    @model_validator(mode="after")
    def _rule_needs(self) -> FactorizeStageConfig:
        if self.rule == "target":
            return self
        needs = {"energy": "energy", "relative": "tau", "macs": "macs_target"}[self.rule]
        if getattr(self, needs) is None:
            example = {"energy": "0.9", "tau": "0.05", "macs_target": "0.5"}[needs]
            raise ValueError(f"rule {self.rule!r} needs {needs!r} (e.g. {needs}: {example})")
        return self


class QuantizeStageConfig(StageConfig):
    """Settings of a ``quantize`` stage."""

    kind: Literal["quantize"] = "quantize"
    weight_bits: int = Field(4, ge=1, le=8)
    act_bits: int | None = Field(4, ge=1, le=8)
    first_last_bits: int | None = Field(8, ge=1, le=8)
    per_channel: bool = True
    weight_scale: Literal["ls", "lsq"] = "ls"
    ls_iters: int = Field(1, ge=0)
    skip: list[str] = Field(default_factory=list)
    calibration_batches: int = Field(4, ge=1)


class Int8StageConfig(StageConfig):
    """Settings of an ``int8`` stage (post-training int8 for ONNX Runtime)."""

    kind: Literal["int8"] = "int8"
    calibration_images: int = Field(512, ge=1)
    methods: list[Literal["minmax", "percentile", "entropy"]] = Field(
        default_factory=lambda: ["minmax"], min_length=1
    )
    formats: list[Literal["qoperator", "qdq"]] = Field(
        default_factory=lambda: ["qoperator", "qdq"], min_length=1
    )
    variants: list[Literal["plain", "reduce_range", "first_layer_float"]] = Field(
        default_factory=lambda: ["plain", "reduce_range"], min_length=1
    )
    activation: Literal["u8", "s8"] = "u8"
    selection_images: int = Field(1000, ge=1)
    min_fidelity: float = Field(0.995, gt=0, le=1)
    batch_sizes: list[PositiveInt] = Field(default_factory=lambda: [1, 32], min_length=1)
    threads: int | None = Field(None, ge=1)
    rounds: int = Field(5, ge=1)
    repeats: int = Field(20, ge=1)
    opset: ExporterOpset = Field(17, ge=13)
    filename: OnnxFileName = "model_int8.onnx"
