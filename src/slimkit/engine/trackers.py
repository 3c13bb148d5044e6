"""Experiment trackers that mirror ``metrics.jsonl``: TensorBoard and (when installed) MLflow.

``metrics.jsonl`` is always written; a recipe's ``runtime.loggers`` adds mirrors of it:

- ``tensorboard``: scalars in ``RUN_DIR/tensorboard`` (``tensorboard --logdir RUN_DIR``);
- ``mlflow``: metrics of one MLflow run in the file store ``RUN_DIR/mlruns``
  (``mlflow ui --backend-store-uri RUN_DIR/mlruns``); needs the ``mlflow`` package.

Each record becomes scalars: every numeric value (nested dicts such as TRP's per-layer ranks
flattened with ``/``) except the indexing keys ``event``, ``stage``, ``stage_kind``, ``epoch`` and
``step``, tagged ``f"{stage_kind}{stage}/{key}"`` (e.g. ``train0/test_top1``) at step
``record["step"]`` (``record["epoch"]`` when it has no step).

Example:
    >>> scalars({"event": "epoch", "stage": 0, "stage_kind": "train", "epoch": 2, "step": 40,
    ...          "train_loss": 0.5, "ranks": {"conv1": 3}, "note": "x", "bad": float("nan")})
    (40, {'train0/train_loss': 0.5, 'train0/ranks/conv1': 3.0})
"""

from __future__ import annotations

import importlib.util
import math
from collections.abc import Iterable, Mapping
from numbers import Real
from pathlib import Path
from typing import Any

INDEX_KEYS = frozenset({"event", "stage", "stage_kind", "epoch", "step"})
LOGGERS = ("jsonl", "tensorboard", "mlflow")


def _flatten(prefix: str, value: Any, out: dict[str, float]) -> None:
    if isinstance(value, Mapping):
        for k, v in value.items():
            _flatten(f"{prefix}/{k}", v, out)
    elif isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(float(value)):
        out[prefix] = float(value)


def scalars(record: Mapping[str, Any]) -> tuple[int, dict[str, float]]:
    """``(step, {tag: value})`` of one metrics record (see the module docstring).

    Non-finite and non-numeric values are left out, as are booleans.
    """
    step = record.get("step", record.get("epoch"))
    step = int(step) if isinstance(step, Real) and not isinstance(step, bool) else 0
    group = f"{record.get('stage_kind', '')}{record.get('stage', '')}" or str(
        record.get("event", "run")
    )
    out: dict[str, float] = {}
    for key, value in record.items():
        if key not in INDEX_KEYS:
            _flatten(f"{group}/{key}", value, out)
    return step, out


class Tracker:
    """A mirror of the metrics log: ``log`` each record, ``close`` at the end."""

    def log(self, record: Mapping[str, Any]) -> None:
        """Mirror one record."""
        raise NotImplementedError

    def close(self) -> None:
        """Flush and release files."""


class TensorBoardTracker(Tracker):
    """Scalars through ``torch.utils.tensorboard.SummaryWriter`` into ``log_dir``."""

    def __init__(self, log_dir: str | Path) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(log_dir=str(log_dir))

    def log(self, record: Mapping[str, Any]) -> None:
        step, values = scalars(record)
        for tag, value in values.items():
            self.writer.add_scalar(tag, value, global_step=step)
        self.writer.flush()  # a crashed run keeps what it logged

    def close(self) -> None:
        self.writer.close()


class MLflowTracker(Tracker):
    """Metrics of one MLflow run in a local file store (``tracking_dir``)."""

    def __init__(self, tracking_dir: str | Path, run_name: str = "slimkit") -> None:
        import mlflow

        path = Path(tracking_dir).resolve()
        path.mkdir(parents=True, exist_ok=True)
        self.client = mlflow.MlflowClient(tracking_uri=path.as_uri())
        found = self.client.get_experiment_by_name("slimkit")
        experiment = found.experiment_id if found else self.client.create_experiment("slimkit")
        self.run_id = self.client.create_run(experiment, run_name=run_name).info.run_id

    def log(self, record: Mapping[str, Any]) -> None:
        step, values = scalars(record)
        for tag, value in values.items():
            self.client.log_metric(self.run_id, tag, value, step=step)

    def close(self) -> None:
        self.client.set_terminated(self.run_id)


def check_loggers(names: Iterable[str]) -> tuple[str, ...]:
    """Validate ``runtime.loggers``: known names, and ``mlflow`` only when it is installed.

    Example:
        >>> check_loggers(["tensorboard"])
        ('tensorboard',)
        >>> try:
        ...     check_loggers(["wandb"])
        ... except ValueError as e:
        ...     print(e)
        runtime.loggers: unknown logger 'wandb'; allowed: jsonl, tensorboard, mlflow
    """
    out = []
    for name in names:
        if name not in LOGGERS:
            raise ValueError(
                f"runtime.loggers: unknown logger {name!r}; allowed: {', '.join(LOGGERS)}"
            )
        if name == "mlflow" and importlib.util.find_spec("mlflow") is None:
            raise ValueError(
                "runtime.loggers: 'mlflow' needs the mlflow package (pip install mlflow), which is "
                "not installed"
            )
        if name not in out:
            out.append(name)
    return tuple(out)


def make_trackers(names: Iterable[str], run_dir: str | Path) -> list[Tracker]:
    """The trackers for ``runtime.loggers`` writing under ``run_dir`` (``jsonl`` needs none).

    Example:
        >>> make_trackers(["jsonl"], "/tmp")
        []
    """
    run_dir = Path(run_dir)
    trackers: list[Tracker] = []
    for name in check_loggers(names):
        if name == "tensorboard":
            trackers.append(TensorBoardTracker(run_dir / "tensorboard"))
        elif name == "mlflow":
            trackers.append(MLflowTracker(run_dir / "mlruns", run_name=run_dir.name or "slimkit"))
    return trackers
