"""Damaged or interrupted runs recover: unique run directories, fallback to the previous good
checkpoint or stage, and resume with a corrected late stage without retraining."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import torch

from slimkit import pipeline
from slimkit.artifacts import load_artifact
from slimkit.engine.loop import Trainer
from slimkit.pipeline import RunDirError, create_unique_dir, run_recipe
from slimkit.recipes import recipe_from_dict
from tests.helpers import REPO
from tests.reliability.test_bad_inputs import tiny_recipe


def recipe_dict(epochs: int = 3, extra_stages: list | None = None) -> dict:
    raw = tiny_recipe()
    raw["seed"] = 3
    raw["runtime"].pop("threads")  # keep the suite's thread count in this process
    raw["stages"] = [
        {"kind": "train", "epochs": epochs, "optimizer": {"lr": 0.05}},
        *(extra_stages or []),
    ]
    return raw


def run(raw: dict, out: Path | None, *, resume: bool = False, overrides=None) -> list[str]:
    lines: list[str] = []
    run_recipe(recipe_from_dict(raw, overrides), out, resume=resume, echo=lines.append)
    return lines


def weights(run_dir: Path) -> dict[str, torch.Tensor]:
    return load_artifact(run_dir / "model.slim.pt").module.state_dict()


def assert_same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


class Killed(BaseException):
    """Stands for SIGKILL: nothing after it runs."""


def kill_after_save(monkeypatch, *, stage: int, epoch: int, damage=None) -> None:
    """Make the trainer die right after writing the checkpoint of (stage, epoch)."""
    original = Trainer._save

    def save(self, epoch_done: int, step: int) -> None:
        original(self, epoch_done, step)
        if self.stage_index == stage and epoch_done == epoch:
            if damage is not None:
                damage(self.checkpoint_path)
            raise Killed

    monkeypatch.setattr(Trainer, "_save", save)


def truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])


def test_truncated_checkpoint_falls_back_to_the_previous_one_bit_exactly(
    tmp_path: Path, monkeypatch
) -> None:
    run(recipe_dict(), tmp_path / "full")
    with monkeypatch.context() as m:
        kill_after_save(m, stage=0, epoch=2, damage=truncate)  # killed while writing epoch 2
        with pytest.raises(Killed):
            run(recipe_dict(), tmp_path / "killed")
    lines = run(recipe_dict(), tmp_path / "killed", resume=True)
    assert any("damaged" in line and "stage0.pt" in line for line in lines), lines
    assert any("resuming from" in line and "stage0.prev.pt" in line for line in lines), lines
    assert any("resumed stage 0 after epoch 1" in line for line in lines), lines
    assert_same(weights(tmp_path / "full"), weights(tmp_path / "killed"))


def test_damaged_stage_state_reruns_that_stage(tmp_path: Path, monkeypatch) -> None:
    two = recipe_dict(1, [{"kind": "train", "epochs": 2, "optimizer": {"lr": 0.01}}])
    run(two, tmp_path / "full")
    with monkeypatch.context() as m:
        kill_after_save(m, stage=1, epoch=1)
        with pytest.raises(Killed):
            run(two, tmp_path / "killed")
    truncate(tmp_path / "killed" / "stages" / "stage0.rng.pt")
    lines = run(two, tmp_path / "killed", resume=True)
    assert any("saved state of stage 0 is damaged" in line for line in lines), lines
    assert_same(weights(tmp_path / "full"), weights(tmp_path / "killed"))


def test_resume_with_a_corrected_late_stage_reruns_only_that_stage(tmp_path: Path) -> None:
    def with_prune(target: float) -> dict:
        raw = recipe_dict(2, [{"kind": "prune", "rule": "macs", "macs_target": target}])
        raw["model"]["name"] = "resnet8_tiny"  # LeNet-5 has no BN channels to select by
        return raw

    run(with_prune(0.5), tmp_path / "full")
    with pytest.raises(ValueError, match="unreachable"):
        run(with_prune(0.0001), tmp_path / "failed")
    trained = (tmp_path / "failed" / "stages" / "stage0.slim.pt").stat().st_mtime_ns
    lines = run(with_prune(0.5), tmp_path / "failed", resume=True)
    assert "stage 0: train" not in lines  # not retrained
    assert any("stage 1 (prune) changed since the run started" in line for line in lines), lines
    assert (tmp_path / "failed" / "stages" / "stage0.slim.pt").stat().st_mtime_ns == trained
    assert_same(weights(tmp_path / "full"), weights(tmp_path / "failed"))


def test_resume_refuses_a_changed_model_or_data(tmp_path: Path) -> None:
    run(recipe_dict(1), tmp_path / "run")
    with pytest.raises(RunDirError, match=r"model.name: 'lenet5' -> 'resnet8_tiny' differs"):
        run(recipe_dict(1), tmp_path / "run", resume=True, overrides=["model.name=resnet8_tiny"])
    with pytest.raises(RunDirError, match="data.batch_size"):
        run(recipe_dict(1), tmp_path / "run", resume=True, overrides=["data.batch_size=8"])
    # the run directory is left usable: the original recipe still resumes (nothing to do)
    lines = run(recipe_dict(1), tmp_path / "run", resume=True)
    assert any("resuming" in line for line in lines)


def test_three_runs_in_the_same_second_get_three_directories(tmp_path: Path, monkeypatch) -> None:
    frozen = dt.datetime(2026, 12, 1, 12, 0, 0)

    class Clock(dt.datetime):
        @classmethod
        def now(cls, tz=None):  # noqa: ANN001
            return frozen if tz is None else frozen.replace(tzinfo=tz)

    monkeypatch.setattr(pipeline, "datetime", Clock)
    monkeypatch.chdir(tmp_path)
    for _ in range(3):
        run(recipe_dict(1), None)
    dirs = sorted(p.name for p in (tmp_path / "runs").iterdir())
    assert dirs == ["tiny-20261201-120000", "tiny-20261201-120000-2", "tiny-20261201-120000-3"]
    for name in dirs:
        assert (tmp_path / "runs" / name / "report.json").is_file()


def test_unique_directories_under_concurrency(tmp_path: Path) -> None:
    made: list[Path] = []
    barrier = threading.Barrier(8)

    def make() -> None:
        barrier.wait()
        made.append(create_unique_dir(tmp_path / "same"))

    threads = [threading.Thread(target=make) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(made)) == 8


@pytest.mark.slow  # three processes at once: ~20 s on 2 cores
def test_three_concurrent_processes_without_out(tmp_path: Path) -> None:
    import yaml

    recipe = tmp_path / "r.yaml"
    raw = recipe_dict(1)
    raw["runtime"]["threads"] = 1
    recipe.write_text(yaml.safe_dump(raw))
    env = {"PYTHONPATH": str(REPO / "src"), "OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"}
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "slimkit", "run", str(recipe)],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(3)
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err.decode()[-2000:]
    dirs = list((tmp_path / "runs").iterdir())
    assert len(dirs) == 3
    for d in dirs:
        assert (d / "report.json").is_file() and (d / "model.slim.pt").is_file()
