"""carve_val: determinism, exact stratified counts, disjointness, group integrity, error lines."""

from __future__ import annotations

import pytest
import torch

from slimkit.data.dataset import ArrayDataset
from slimkit.data.split import carve_val


def _classes(counts: list[int]) -> ArrayDataset:
    y = torch.cat([torch.full((c,), k) for k, c in enumerate(counts)])
    n = len(y)
    # image k holds the value k (mod 256) so samples can be traced through the split
    x = (torch.arange(n) % 256).to(torch.uint8).view(n, 1, 1, 1).expand(n, 1, 2, 2).contiguous()
    return ArrayDataset(x, y, [str(k) for k in range(len(counts))], extras={"id": torch.arange(n)})


def _ids(ds: ArrayDataset) -> list[int]:
    return ds.extras["id"].tolist()


def test_stratified_counts_are_exact() -> None:
    counts = [100, 50, 7, 3, 2, 1]
    ds = _classes(counts)
    train, val = carve_val(ds, fraction=0.1, seed=0)
    # round half up of 0.1 * n, at least 1 when n >= 2, a class of 1 stays in train:
    # 100 -> 10, 50 -> 5, 7 -> 0.7 -> 1, 3 -> 0.3 -> 1 (minimum), 2 -> 1, 1 -> 0
    assert torch.bincount(val.y, minlength=6).tolist() == [10, 5, 1, 1, 1, 0]
    assert torch.bincount(train.y, minlength=6).tolist() == [90, 45, 6, 2, 1, 1]
    # half up: 0.25 * 6 = 1.5 -> 2, 0.25 * 10 = 2.5 -> 3
    _, val = carve_val(_classes([6, 10]), fraction=0.25, seed=3)
    assert torch.bincount(val.y).tolist() == [2, 3]


def test_per_class_counts_and_cap() -> None:
    ds = _classes([20, 8, 3])
    train, val = carve_val(ds, per_class=5, seed=0)
    # a class never gives all its samples: 3 -> 2 to val, 1 stays in train
    assert torch.bincount(val.y).tolist() == [5, 5, 2]
    assert torch.bincount(train.y).tolist() == [15, 3, 1]


def test_deterministic_disjoint_complete_and_ordered() -> None:
    ds = _classes([40, 30, 30])
    a_train, a_val = carve_val(ds, fraction=0.2, seed=7)
    b_train, b_val = carve_val(ds, fraction=0.2, seed=7)
    assert _ids(a_val) == _ids(b_val) and _ids(a_train) == _ids(b_train)
    _, c_val = carve_val(ds, fraction=0.2, seed=8)
    assert _ids(c_val) != _ids(a_val)  # another seed, another choice
    assert set(_ids(a_train)).isdisjoint(_ids(a_val))
    assert sorted(_ids(a_train) + _ids(a_val)) == list(range(100))
    # original order kept; images and labels travel with their samples
    assert _ids(a_val) == sorted(_ids(a_val)) and _ids(a_train) == sorted(_ids(a_train))
    ids = a_val.extras["id"]
    assert torch.equal(a_val.y, ds.y[ids]) and torch.equal(a_val.x, ds.x[ids])


def test_groups_are_never_split() -> None:
    gen = torch.Generator().manual_seed(0)
    n = 300
    groups = torch.randint(0, 37, (n,), generator=gen) * 11  # 37 subjects, ids not 0..k-1
    y = torch.randint(0, 2, (n,), generator=gen)
    x = torch.zeros(n, 1, 2, 2, dtype=torch.uint8)
    ds = ArrayDataset(x, y, ["closed", "open"], groups=groups)
    train, val = carve_val(ds, fraction=0.2, seed=5)
    assert set(train.groups.tolist()).isdisjoint(val.groups.tolist())
    assert len(train) + len(val) == n
    for g in set(val.groups.tolist()):  # every sample of a val group is in val
        assert int((val.groups == g).sum()) == int((groups == g).sum())
    # the fewest shuffled groups that reach round(0.2 * 300) = 60 samples
    assert len(val) >= 60 and len(val) - 60 < int(torch.bincount(groups).max())
    again_train, again_val = carve_val(ds, fraction=0.2, seed=5)
    assert torch.equal(again_val.groups, val.groups) and torch.equal(again_train.y, train.y)
    # explicit groups override (and are carried on the returned splits)
    plain = ArrayDataset(x, y, ["closed", "open"])
    tr2, va2 = carve_val(plain, fraction=0.2, seed=5, groups=groups)
    assert torch.equal(va2.groups, val.groups) and tr2.groups is not None


def test_regression_targets_plain_random() -> None:
    n = 50
    ds = ArrayDataset(
        torch.zeros(n, 1, 2, 2, dtype=torch.uint8),
        torch.linspace(0, 1, n).view(n, 1).repeat(1, 2),  # (N, 2) float targets
        ["u", "v"],
    )
    train, val = carve_val(ds, fraction=0.3, seed=0)
    assert (len(train), len(val)) == (35, 15) and val.y.shape == (15, 2)
    values = set(train.y[:, 0].tolist()) | set(val.y[:, 0].tolist())
    assert len(values) == n
    # stratify=False on class ids: also plain random, same count rule
    _, val2 = carve_val(_classes([10, 10]), fraction=0.3, seed=0, stratify=False)
    assert len(val2) == 6


@pytest.mark.parametrize("bad", [0, 0.0, 1, 1.5, -0.1, True, "0.2"])
def test_fraction_errors(bad: object) -> None:
    with pytest.raises(ValueError) as err:
        carve_val(_classes([5, 5]), fraction=bad, seed=0)  # type: ignore[arg-type]
    msg = str(err.value)
    assert msg == f"data.val_fraction: expected a number in (0, 1), got {bad!r}"
    assert "\n" not in msg


def test_error_lines() -> None:
    ds = _classes([5, 5])
    cases = [
        (dict(per_class=0), "data.val_per_class: expected a positive integer, got 0"),
        (dict(per_class=2.5), "data.val_per_class: expected a positive integer, got 2.5"),
        (dict(), "data.val_fraction: give exactly one of"),
        (dict(fraction=0.2, per_class=1), "data.val_fraction: give exactly one of"),
    ]
    for kwargs, start in cases:
        with pytest.raises(ValueError) as err:
            carve_val(ds, seed=0, **kwargs)  # type: ignore[arg-type]
        assert str(err.value).startswith(start) and "\n" not in str(err.value)
    reg = ArrayDataset(torch.zeros(4, 1, 2, 2, dtype=torch.uint8), torch.rand(4), [])
    with pytest.raises(ValueError, match=r"^data.val_per_class: needs class labels"):
        carve_val(reg, per_class=1, seed=0)
    one_group = ArrayDataset(ds.x, ds.y, ds.classes, groups=torch.zeros(10, dtype=torch.int64))
    with pytest.raises(ValueError, match=r"^data.val_fraction: splitting by group needs"):
        carve_val(one_group, fraction=0.5, seed=0)
    singletons = _classes([1, 1, 1])
    with pytest.raises(ValueError, match=r"^data.val_fraction: no class has 2 or more samples"):
        carve_val(singletons, fraction=0.5, seed=0)
