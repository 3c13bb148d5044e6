"""CIFAR-10 from the materialized directory (skips when the shared data is absent)."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from slimkit.data import Augment, BatchLoader, channel_stats, load_dataset
from slimkit.data import arrays as arrays_module
from slimkit.data import cifar as cifar_module
from slimkit.data.arrays import decode_x_enc

SHARED_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"

CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def test_cifar10_full(cifar10_root: str) -> None:
    arrays_module._CACHE.clear()
    t = time.perf_counter()
    s = load_dataset("cifar10", root=cifar10_root)
    seconds = time.perf_counter() - t
    assert seconds < 10.0, f"loading CIFAR-10 took {seconds:.1f} s"
    assert (len(s.train), len(s.test)) == (50000, 10000)
    assert s.train.x.shape == (50000, 3, 32, 32) and s.train.x.dtype == torch.uint8
    assert s.train.x.is_contiguous() and s.test.y.dtype == torch.int64
    assert s.num_classes == 10 and s.train.classes == CLASSES and s.input_size == (3, 32, 32)
    assert s.mean == (0.4914, 0.4822, 0.4465) and s.std == (0.2023, 0.1994, 0.2010)
    assert torch.equal(torch.bincount(s.train.y), torch.full((10,), 5000))
    assert torch.equal(torch.bincount(s.test.y), torch.full((10,), 1000))
    # canonical train pixel mean (R, G, B) = 125.307, 122.950, 113.865 (shared/data/README.md)
    mean, _ = channel_stats(s.train.x)
    assert np.allclose(np.array(mean) * 255, [125.307, 122.950, 113.865], atol=2e-3)


def test_cifar10_subset_and_alternative_root(cifar10_root: str) -> None:
    s = load_dataset("cifar10", root=cifar10_root, subset_per_class=100, test_subset_per_class=10)
    assert torch.equal(torch.bincount(s.train.y), torch.full((10,), 100))
    assert torch.equal(torch.bincount(s.test.y), torch.full((10,), 10))
    inner = load_dataset(
        "cifar10",
        root=str(Path(cifar10_root) / "cifar10"),
        subset_per_class=100,
        test_subset_per_class=10,
    )
    assert torch.equal(inner.train.x, s.train.x) and torch.equal(inner.test.y, s.test.y)
    # the canonical constants standardize the images (no augmentation: padding would add zeros)
    loader = BatchLoader(s.train, 500, shuffle=True, augment=None, mean=s.mean, std=s.std)
    x, _ = next(iter(loader))
    assert x.shape == (500, 3, 32, 32)
    # the classic CIFAR-10 "std" constants are below the true pixel std (62.992, 62.088, 66.705
    # per README), so normalized channels have std true/const ~ 1.22, and mean ~ 0
    true_std = torch.tensor([62.992, 62.088, 66.705]) / 255
    want_std = true_std / torch.tensor(s.std)
    assert float(x.mean(dim=(0, 2, 3)).abs().max()) < 0.1
    assert torch.allclose(x.std(dim=(0, 2, 3)), want_std, atol=0.06)
    aug = BatchLoader(s.train, 500, shuffle=True, augment=Augment(), mean=s.mean, std=s.std)
    xa, _ = next(iter(aug))
    assert xa.shape == (500, 3, 32, 32) and xa.is_contiguous(memory_format=torch.channels_last)


def test_cifar100_root_rejects_cifar10_files(cifar10_root: str) -> None:
    with pytest.raises(ValueError, match="10 classes, cifar100 has 100"):
        load_dataset("cifar100", root=str(Path(cifar10_root) / "cifar10"))


def test_decode_x_enc_matches_published_hash() -> None:
    src = SHARED_DATA / "cifar10" / "test.npz"
    if not src.is_file():
        pytest.skip(f"{src} does not exist")
    with np.load(src) as z:
        x = decode_x_enc(z["x_enc"])
    assert x.shape == (10000, 32, 32, 3)
    digest = hashlib.sha256(x.tobytes()).hexdigest()
    assert digest == "f3acc1ef6d60835d75822b8e1555dbe6829e9a3aa913a6310ac5ebcd062e4a62"


def _write_fake_cifar100(root: Path, per_class: int = 2) -> Path:
    """A tiny file in materialize.py's CIFAR-100 layout: x, y (fine), y_coarse, class names."""
    d = root / "cifar100"
    d.mkdir(parents=True)
    rng = np.random.default_rng(0)
    fine = [f"fine{k:02d}" for k in range(100)]
    coarse = [f"coarse{k:02d}" for k in range(20)]
    for split in ("train", "test"):
        y = np.tile(np.arange(100), per_class)  # (N,)
        x = rng.integers(0, 256, (len(y), 32, 32, 3), dtype=np.uint8)
        np.savez(
            d / f"{split}.npz",
            x=x,
            y=y,
            y_coarse=y // 5,
            classes=np.array(fine),
            coarse_classes=np.array(coarse),
        )
    return d


def test_cifar100_keeps_coarse_labels(tmp_path: Path) -> None:
    _write_fake_cifar100(tmp_path)
    s = load_dataset("cifar100", root=str(tmp_path))
    assert s.num_classes == 100 and s.train.classes[:2] == ["fine00", "fine01"]
    assert s.mean == (0.5071, 0.4865, 0.4409)
    assert torch.equal(s.train.extras["y_coarse"], s.train.y // 5)
    # a class-balanced subset keeps y_coarse aligned with its samples
    sub = load_dataset("cifar100", root=str(tmp_path), subset_per_class=1)
    assert len(sub.train) == 100 and torch.equal(sub.train.extras["y_coarse"], sub.train.y // 5)
    coarse = load_dataset("cifar100", root=str(tmp_path), labels="coarse")
    assert coarse.num_classes == 20 and coarse.train.classes[0] == "coarse00"
    assert torch.equal(coarse.train.y, coarse.train.extras["y_fine"] // 5)
    with pytest.raises(ValueError, match=r"^labels: expected 'fine' or 'coarse', got 'super'"):
        load_dataset("cifar100", root=str(tmp_path), labels="super")


def test_cifar_default_root_from_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _write_fake_cifar100(tmp_path)
    monkeypatch.setenv("SLIMKIT_DATA", str(tmp_path))
    assert load_dataset("cifar100").num_classes == 100
    # $SLIMKIT_DATA without CIFAR-10: torchvision's cache is next, and the error says how to fix it
    monkeypatch.setattr(cifar_module, "_DEFAULT_CACHE", tmp_path / "tv")
    with pytest.raises(ValueError, match=r"^root: cifar10 not found .*SLIMKIT_DATA"):
        load_dataset("cifar10")


def test_cifar100_real_data() -> None:
    env = os.environ.get("SLIMKIT_DATA")
    candidates = [Path(env)] if env else []
    candidates += [Path(__file__).resolve().parents[2] / ".cache" / "data", SHARED_DATA]
    root = next((c for c in candidates if (c / "cifar100").is_dir()), None)
    if root is None:
        pytest.skip(
            "CIFAR-100 unavailable: shared/data has no cifar100/ yet (shared/data/README.md) and "
            "no materialized copy was found ($SLIMKIT_DATA, .cache/data)"
        )
    s = load_dataset("cifar100", root=str(root))
    assert (len(s.train), len(s.test), s.num_classes) == (50000, 10000, 100)
    assert torch.equal(torch.bincount(s.train.y), torch.full((100,), 500))
    assert torch.equal(torch.bincount(s.train.extras["y_coarse"]), torch.full((20,), 2500))
    # each fine class lies inside exactly one superclass
    pairs = torch.unique(torch.stack([s.train.y, s.train.extras["y_coarse"]], 1), dim=0)
    assert len(pairs) == 100
