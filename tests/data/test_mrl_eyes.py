"""Eye datasets: ``mrl_eyes`` from small npz files written here, and the ``target`` option of
``mrl_eyes`` and ``cew_eyes`` (class ids or float openness for the regression task)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from slimkit.data import load_dataset
from slimkit.data.split import carve_val

SHARED_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"


def _write_mrl(root: Path, train_subjects: list[int], test_subjects: list[int], per: int = 6):
    d = root / "mrl_eyes"
    d.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for split, subjects in (("train", train_subjects), ("test", test_subjects)):
        subject = np.repeat(np.array(subjects), per)  # (N,)
        n = len(subject)
        x = rng.integers(0, 256, (n, 48, 48, 1), dtype=np.uint8)
        y = np.arange(n) % 2  # alternate closed / open inside every subject
        np.savez(d / f"{split}.npz", x=x, y=y, subject=subject)
    return d


def test_mrl_eyes_classes_and_subjects(tmp_path: Path) -> None:
    d = _write_mrl(tmp_path, [3, 5, 8, 13, 21], [34, 55])
    s = load_dataset("mrl_eyes", root=str(tmp_path))
    assert (len(s.train), len(s.test)) == (30, 12)
    assert (
        s.input_size == (1, 48, 48) and s.num_classes == 2 and s.train.classes == ["closed", "open"]
    )
    assert s.train.y.dtype == torch.int64 and s.train.y.tolist()[:4] == [0, 1, 0, 1]
    with np.load(d / "train.npz") as z:
        assert torch.equal(s.train.x, torch.from_numpy(z["x"]).permute(0, 3, 1, 2))
        assert s.train.groups.tolist() == z["subject"].tolist()
    assert set(s.test.groups.tolist()) == {34, 55}
    # the directory itself also works
    again = load_dataset("mrl_eyes", root=str(d))
    assert torch.equal(again.test.x, s.test.x)
    # a validation split keeps subjects whole
    train, val = carve_val(s.train, fraction=0.2, seed=0)
    assert set(train.groups.tolist()).isdisjoint(val.groups.tolist())
    assert len(val) == 6  # one subject of 6 crops reaches round(0.2 * 30) = 6


def test_mrl_eyes_openness_target(tmp_path: Path) -> None:
    _write_mrl(tmp_path, [1, 2], [3])
    s = load_dataset("mrl_eyes", root=str(tmp_path), target="openness")
    assert s.train.y.dtype == torch.float32 and s.train.y.tolist()[:3] == [0.0, 1.0, 0.0]
    assert s.num_classes == 0 and s.target_dim == 1 and s.train.classes == ["openness"]
    assert s.train.groups is not None  # subjects survive the target change


def test_mrl_eyes_default_root_from_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _write_mrl(tmp_path, [1], [2])
    monkeypatch.setenv("SLIMKIT_DATA", str(tmp_path))
    assert len(load_dataset("mrl_eyes").train) == 6


def test_mrl_eyes_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SLIMKIT_DATA", raising=False)
    with pytest.raises(ValueError, match=r"^root: dataset 'mrl_eyes' needs root=.*not in shared"):
        load_dataset("mrl_eyes")
    with pytest.raises(ValueError, match=r"^root: no mrl_eyes data in .*empty"):
        load_dataset("mrl_eyes", root=str(tmp_path / "empty"))
    _write_mrl(tmp_path / "leak", [1, 2, 3], [3, 4])
    with pytest.raises(ValueError, match=r"^subject: 1 subject\(s\) appear in both train and test"):
        load_dataset("mrl_eyes", root=str(tmp_path / "leak"))
    ok = tmp_path / "ok"
    _write_mrl(ok, [1], [2])
    with pytest.raises(ValueError, match=r"^dataset.target: expected 'class' or 'openness'"):
        load_dataset("mrl_eyes", root=str(ok), target="open")
    d = tmp_path / "nosubj" / "mrl_eyes"
    d.mkdir(parents=True)
    for split in ("train", "test"):
        np.savez(d / f"{split}.npz", x=np.zeros((2, 48, 48, 1), np.uint8), y=np.array([0, 1]))
    with pytest.raises(ValueError, match=r"^subject: key missing"):
        load_dataset("mrl_eyes", root=str(d.parent))


def test_cew_eyes_targets_and_groups() -> None:
    src = SHARED_DATA / "cew_eyes" / "cew_eyes.npz"
    if not src.is_file():
        pytest.skip(f"CEW eye patches unavailable: {src} does not exist")
    cls = load_dataset("cew_eyes", root=str(SHARED_DATA))
    reg = load_dataset("cew_eyes", root=str(SHARED_DATA), target="openness")
    assert (len(cls.train), len(cls.test)) == (3888, 958) and cls.num_classes == 2
    assert reg.train.y.dtype == torch.float32 and reg.num_classes == 0 and reg.target_dim == 1
    assert torch.equal(reg.train.y, cls.train.y.float()) and torch.equal(reg.test.x, cls.test.x)
    # the source's groups (photo or person) become ids; no group is in both splits (README)
    assert cls.train.groups is not None and cls.test.groups is not None
    assert set(cls.train.groups.tolist()).isdisjoint(cls.test.groups.tolist())
    assert len(set(cls.train.groups.tolist())) + len(set(cls.test.groups.tolist())) == 2365
    train, val = carve_val(reg.train, fraction=0.1, seed=0)
    assert set(train.groups.tolist()).isdisjoint(val.groups.tolist())
    assert abs(len(val) - 389) <= 8  # the fewest whole groups reaching round(0.1 * 3888)
