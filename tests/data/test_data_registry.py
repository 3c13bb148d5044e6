"""Registry, errors and the user-data datasets (npz, imagefolder)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from slimkit.data import (
    ArrayDataset,
    DatasetSplits,
    UnknownDatasetError,
    list_datasets,
    load_dataset,
    register_dataset,
)
from slimkit.data import cifar as cifar_module
from slimkit.data import registry as registry_module


def _one_line_error(exc_info: pytest.ExceptionInfo[BaseException]) -> str:
    msg = str(exc_info.value)
    assert "\n" not in msg
    return msg


def test_list_datasets_names() -> None:
    names = list_datasets()
    for n in ("digits", "cifar10", "cifar100", "npz", "imagefolder", "cew_eyes"):
        assert n in names and names[n]


def test_unknown_dataset_suggests_nearest() -> None:
    with pytest.raises(UnknownDatasetError) as e:
        load_dataset("cifar-10")
    msg = _one_line_error(e)
    assert "did you mean 'cifar10'" in msg and "dataset.name" in msg
    assert isinstance(e.value, ValueError)
    with pytest.raises(UnknownDatasetError, match="did you mean 'digits'"):
        load_dataset("digit")


def test_bad_kwarg_names_field_and_suggestion() -> None:
    with pytest.raises(ValueError) as e:
        load_dataset("imagefolder", root="/nonexistent", imagesize=16)
    msg = _one_line_error(e)
    assert "dataset.imagesize" in msg and "'image_size'" in msg
    with pytest.raises(ValueError, match="subset_per_class"):
        load_dataset("digits", subset_per_class=0)
    with pytest.raises(ValueError, match="test_subset_per_class"):
        load_dataset("digits", test_subset_per_class=-2)


def test_register_custom_dataset() -> None:
    @register_dataset("unit_toy", "toy")
    def _toy(*, root: str | None = None, download: bool = False, n: int = 4) -> DatasetSplits:
        ds = ArrayDataset(
            torch.zeros(n, 1, 2, 2, dtype=torch.uint8), torch.arange(n) % 2, ["a", "b"]
        )
        return DatasetSplits("unit_toy", ds, ds, 2, (0.0,), (1.0,), (1, 2, 2))

    try:
        assert list_datasets()["unit_toy"] == "toy"
        assert len(load_dataset("UNIT_TOY", n=6).train) == 6
        with pytest.raises(ValueError, match="already registered"):
            register_dataset("unit_toy")(lambda **kw: None)
    finally:
        registry_module._REGISTRY.pop("unit_toy", None)


def test_cifar_without_root_or_download(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SLIMKIT_DATA", raising=False)  # the default root must not find data
    monkeypatch.setattr(cifar_module, "_DEFAULT_CACHE", tmp_path)
    with pytest.raises(ValueError) as e:
        load_dataset("cifar10")
    msg = _one_line_error(e)
    assert "root=" in msg and "download: true" in msg and str(tmp_path) in msg


def test_missing_roots_name_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    for name in ("cifar10", "cifar100", "npz", "imagefolder", "cew_eyes"):
        with pytest.raises(ValueError) as e:
            load_dataset(name, root=str(missing))
        msg = _one_line_error(e)
        assert msg.startswith("root:") and "nope" in msg, msg
    with pytest.raises(ValueError, match="root: no cifar10 data"):
        load_dataset("cifar10", root=str(tmp_path))
    with pytest.raises(ValueError, match="needs root="):
        load_dataset("npz")
    np.savez(tmp_path / "train.npz", x=np.zeros((2, 4, 4, 3), np.uint8), y=np.zeros(2, np.int64))
    with pytest.raises(ValueError, match="test.npz"):
        load_dataset("npz", root=str(tmp_path))


def test_npz_directory_nhwc_and_nchw(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    x_tr = rng.integers(0, 256, (20, 8, 8, 3), dtype=np.uint8)
    x_te = rng.integers(0, 256, (6, 3, 8, 8), dtype=np.uint8)  # NCHW on purpose
    y_tr, y_te = np.arange(20) % 4, np.arange(6) % 4
    np.savez(tmp_path / "train.npz", x=x_tr, y=y_tr, classes=np.array(list("abcd")))
    np.savez(tmp_path / "test.npz", x=x_te, y=y_te)
    s = load_dataset("npz", root=str(tmp_path), subset_per_class=2)
    assert s.input_size == (3, 8, 8) and s.num_classes == 4 and s.train.classes == list("abcd")
    full = load_dataset("npz", root=str(tmp_path))
    assert torch.equal(full.train.x, torch.from_numpy(x_tr).permute(0, 3, 1, 2))
    assert torch.equal(full.test.x, torch.from_numpy(x_te))
    assert torch.equal(torch.bincount(s.train.y), torch.full((4,), 2))
    expect = (x_tr / 255.0).mean(axis=(0, 1, 2))
    assert np.allclose(full.mean, expect, atol=1e-5)


def test_npz_single_file_grayscale(tmp_path: Path) -> None:
    x = np.arange(5 * 6 * 6, dtype=np.int64).reshape(5, 6, 6) % 256  # (N, H, W), int64 in range
    y = np.array([0, 1, 2, 1, 0])
    p = tmp_path / "gray.npz"
    np.savez(p, x_train=x, y_train=y, x_test=x[:2], y_test=y[:2])
    s = load_dataset("npz", root=str(p))
    assert s.input_size == (1, 6, 6) and s.num_classes == 3 and s.train.classes == ["0", "1", "2"]
    assert s.train.x.dtype == torch.uint8 and torch.equal(
        s.train.x[:, 0], torch.from_numpy(x).byte()
    )
    np.savez(p, x_train=x, y_train=y, x_test=x[:2])
    with pytest.raises(ValueError, match="y_test: key missing"):
        load_dataset("npz", root=str(p))
    np.savez(p, x_train=np.zeros((2, 5, 5, 5), np.uint8), y_train=y[:2], x_test=x, y_test=y)
    with pytest.raises(ValueError, match=r"x_train: expected images"):
        load_dataset("npz", root=str(p))
    # labels beyond the declared class names
    np.savez(p, x_train=x, y_train=y + 1, x_test=x, y_test=y, classes=np.array(["a", "b", "c"]))
    with pytest.raises(ValueError, match=r"npz.train.y: labels must lie in 0..2"):
        load_dataset("npz", root=str(p))


def _write_folder(root: Path, split: str, colors: dict[str, list[tuple[int, int, int]]]) -> None:
    for cls, cols in colors.items():
        (root / split / cls).mkdir(parents=True)
        for i, c in enumerate(cols):
            Image.new("RGB", (12, 10), c).save(root / split / cls / f"{i}.png")


def test_imagefolder_decodes_resizes_and_labels(tmp_path: Path) -> None:
    _write_folder(tmp_path, "train", {"dog": [(10, 20, 30)] * 3, "cat": [(200, 100, 0)] * 2})
    _write_folder(tmp_path, "val", {"cat": [(1, 2, 3)], "dog": [(4, 5, 6)]})
    (tmp_path / "train" / "dog" / "notes.txt").write_text("ignored")
    s = load_dataset("imagefolder", root=str(tmp_path), image_size=16)
    assert s.train.classes == ["cat", "dog"] and s.num_classes == 2
    assert s.input_size == (3, 16, 16) and (len(s.train), len(s.test)) == (5, 2)
    assert s.train.y.tolist() == [0, 0, 1, 1, 1]
    assert s.train.x[0, :, 5, 5].tolist() == [200, 100, 0]
    assert s.train.x[4, :, 0, 0].tolist() == [10, 20, 30]
    assert s.test.x[1, :, 3, 3].tolist() == [4, 5, 6] and s.test.y.tolist() == [0, 1]
    g = load_dataset("imagefolder", root=str(tmp_path), grayscale=True)
    assert g.input_size == (1, 32, 32)
    with pytest.raises(ValueError, match="dataset.image_size"):
        load_dataset("imagefolder", root=str(tmp_path), image_size=0)


def test_imagefolder_unknown_test_class(tmp_path: Path) -> None:
    _write_folder(tmp_path, "train", {"a": [(0, 0, 0)]})
    _write_folder(tmp_path, "test", {"a": [(0, 0, 0)], "b": [(1, 1, 1)]})
    with pytest.raises(ValueError, match="not among the train classes"):
        load_dataset("imagefolder", root=str(tmp_path))
