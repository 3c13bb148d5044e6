"""What stages and training terms may use of a run: typed contexts, low in the house.

Stages (``run(ctx, cfg)``) and term factories (``build(cfg, model, ctx)``) receive a context
object; these Protocols say what it offers, so method packages never import the pipeline that
implements them (:class:`slimkit.pipeline.RunContext`). A user's own training script can pass
any object with these attributes.

This module is torch-free at import time (annotations only).

Example:
    >>> from slimkit.contexts import FinalFigures
    >>> FinalFigures().metrics
    {}
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    import torch

    from slimkit.engine.distributed import DistInfo
    from slimkit.engine.evaluate import EvalResult
    from slimkit.engine.metrics import MetricsLog
    from slimkit.engine.progress import ProgressBars


@dataclass
class FinalFigures:
    """The figures of the model as it stands after the last stage that measured them.

    Attributes:
        metrics: the task's metrics of the last evaluation (test split).
        headline: ``{"name": ..., "value": ...}`` of the task's headline metric.
        latency_ms: latencies from the last ``measure`` stage.
        onnx_path: the exported ONNX file (relative to the run directory), if any.
        plots: PNG plots written so far (relative paths).
    """

    metrics: dict[str, float] = field(default_factory=dict)
    headline: dict[str, Any] = field(default_factory=dict)
    latency_ms: dict[str, float] = field(default_factory=dict)
    onnx_path: str | None = None
    plots: list[str] = field(default_factory=list)


@runtime_checkable
class TermContext(Protocol):
    """What a training term's factory may use: where and how the run executes."""

    device: torch.device
    dist: DistInfo
    run_dir: Path
    stage_index: int
    echo: Callable[[str], None]

    @property
    def normalization(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        """(mean, std) of the inputs."""
        ...

    @property
    def input_size(self) -> tuple[int, int, int]:
        """(C, H, W) of one input image."""
        ...

    @property
    def task(self) -> Any:
        """The learning problem (:class:`slimkit.tasks.base.Task`)."""
        ...

    def loader(self, split: str, *, seed_offset: int = 0, shuffle: bool = False) -> Iterable[Any]:
        """This rank's batches of ``split`` (``train``, or any split with ``shuffle=True``:
        shuffled and augmented)."""
        ...

    def evaluate(
        self, description: str = "eval", split: str = "test", model: Any = None
    ) -> EvalResult:
        """The task's metrics of ``model`` (default: the run's model) on ``split``."""
        ...

    def path(self, *parts: str) -> Path:
        """A path inside the run directory."""
        ...


@runtime_checkable
class StageContext(TermContext, Protocol):
    """What a stage may use: the term context plus the model, recipe, task and figures."""

    recipe: Any
    model: Any  # slimkit.artifacts.SlimModel: the model stages edit in place
    data: Any  # slimkit.data.dataset.DatasetSplits
    bars: ProgressBars
    metrics: MetricsLog
    resume: bool
    final: FinalFigures

    def splits(self) -> list[str]:
        """The data splits this run has (``train``, ``val`` when carved, ``test``)."""
        ...
