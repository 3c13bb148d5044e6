"""TensorBoard (and MLflow) mirrors of metrics.jsonl, read back from the files they wrote."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from slimkit.engine.metrics import MetricsLog
from slimkit.engine.trackers import check_loggers

RECORDS = [
    {"event": "step", "stage": 0, "stage_kind": "train", "epoch": 1, "step": 20, "loss": 2.0},
    {"event": "step", "stage": 0, "stage_kind": "train", "epoch": 1, "step": 40, "loss": 1.5},
    {
        "event": "epoch",
        "stage": 0,
        "stage_kind": "train",
        "epoch": 1,
        "step": 50,
        "train_loss": 1.7,
        "test_top1": 0.625,
        "test_spearman": float("nan"),  # left out of TensorBoard, null in the jsonl
        "lr": 0.1,
    },
    {"event": "trp_ranks", "stage": 1, "step": 7, "ranks": {"conv1": 3, "fc": 5}},
    {"event": "epoch", "stage": 2, "stage_kind": "train", "epoch": 4, "test_mae": 0.25},
]


def _scalars(log_dir: Path) -> dict[str, list[tuple[int, float]]]:
    acc = EventAccumulator(str(log_dir), size_guidance={"scalars": 0})
    acc.Reload()
    return {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


def test_tensorboard_mirrors_every_numeric_value(tmp_path: Path) -> None:
    log = MetricsLog(tmp_path / "metrics.jsonl", loggers=("tensorboard",))
    for record in RECORDS:
        log.write(record)
    log.close()
    lines = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert len(lines) == len(RECORDS) and lines[2]["test_spearman"] is None
    got = _scalars(tmp_path / "tensorboard")
    assert got == {
        "train0/loss": [(20, 2.0), (40, 1.5)],
        "train0/train_loss": [(50, pytest.approx(1.7))],
        "train0/test_top1": [(50, 0.625)],
        "train0/lr": [(50, pytest.approx(0.1))],
        "1/ranks/conv1": [(7, 3.0)],  # no stage_kind: the stage index alone
        "1/ranks/fc": [(7, 5.0)],
        "train2/test_mae": [(4, 0.25)],  # no step: the epoch
    }


def test_default_is_jsonl_only_and_rank_nonzero_writes_nothing(tmp_path: Path) -> None:
    log = MetricsLog(tmp_path / "metrics.jsonl")
    log.write(RECORDS[0])
    log.close()
    assert not (tmp_path / "tensorboard").exists()
    quiet = MetricsLog(None, loggers=("tensorboard",))
    quiet.write(RECORDS[0])
    quiet.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.jsonl"]


def test_logger_errors_name_the_field(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match=r"^runtime.loggers: unknown logger 'wandb'; allowed:"):
        MetricsLog(tmp_path / "metrics.jsonl", loggers=("wandb",))
    monkeypatch.setitem(sys.modules, "mlflow", None)  # as if not installed
    with pytest.raises(ValueError, match=r"^runtime.loggers: 'mlflow' needs the mlflow package"):
        check_loggers(["mlflow"])


class _FakeClient:
    """Records the MlflowClient calls MLflowTracker makes."""

    calls: list[tuple] = []

    def __init__(self, tracking_uri: str) -> None:
        self.calls.append(("init", tracking_uri))

    def get_experiment_by_name(self, name: str) -> None:
        return None

    def create_experiment(self, name: str) -> str:
        return "exp1"

    def create_run(self, experiment_id: str, run_name: str) -> types.SimpleNamespace:
        self.calls.append(("run", experiment_id, run_name))
        return types.SimpleNamespace(info=types.SimpleNamespace(run_id="r1"))

    def log_metric(self, run_id: str, key: str, value: float, step: int) -> None:
        self.calls.append(("metric", run_id, key, value, step))

    def set_terminated(self, run_id: str) -> None:
        self.calls.append(("end", run_id))


def test_mlflow_tracker_calls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = types.ModuleType("mlflow")
    fake.MlflowClient = _FakeClient  # type: ignore[attr-defined]
    fake.__spec__ = types.SimpleNamespace(name="mlflow")  # type: ignore[assignment]
    monkeypatch.setitem(sys.modules, "mlflow", fake)
    monkeypatch.setattr("importlib.util.find_spec", lambda name: object())
    _FakeClient.calls = []
    run_dir = tmp_path / "run7"
    run_dir.mkdir()
    with MetricsLog(run_dir / "metrics.jsonl", loggers=("jsonl", "mlflow")) as log:
        log.write(RECORDS[0])
    assert _FakeClient.calls == [
        ("init", (run_dir / "mlruns").resolve().as_uri()),
        ("run", "exp1", "run7"),
        ("metric", "r1", "train0/loss", 2.0, 20),
        ("end", "r1"),
    ]
