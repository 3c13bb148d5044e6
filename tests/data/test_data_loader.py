"""BatchLoader: normalization, crop/flip correctness, determinism, sharding, speed."""

from __future__ import annotations

import time

import pytest
import torch
import torch.nn.functional as F

from slimkit.data import ArrayDataset, Augment, BatchLoader, crop_flip, normalize, shard_spans


def _ids_dataset(n: int, c: int = 3, h: int = 8, w: int = 8, seed: int = 0) -> ArrayDataset:
    """Random images; label = sample index, so batches reveal which samples they hold."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(0, 256, (n, c, h, w), generator=g, dtype=torch.uint8)
    return ArrayDataset(x, torch.arange(n), [str(i) for i in range(n)])


def _loader(ds: ArrayDataset, b: int, **kw: object) -> BatchLoader:
    kw.setdefault("shuffle", True)
    kw.setdefault("augment", Augment())
    kw.setdefault("mean", (0.0,))
    kw.setdefault("std", (1.0,))
    return BatchLoader(ds, b, **kw)  # type: ignore[arg-type]


def _reference(img: torch.Tensor, oy: int, ox: int, flip: bool, p: int) -> torch.Tensor:
    """Per-sample reference: zero-pad, slice, optionally mirror."""
    h, w = img.shape[1:]
    out = F.pad(img, (p, p, p, p))[:, oy : oy + h, ox : ox + w]
    return out.flip(-1) if flip else out


def test_constant_image_normalizes_to_closed_form() -> None:
    x = torch.full((6, 3, 4, 4), 100, dtype=torch.uint8)
    ds = ArrayDataset(x, torch.zeros(6, dtype=torch.int64), ["a"])
    mean, std = (0.2, 0.4, 0.6), (0.1, 0.2, 0.3)
    for cl in (True, False):
        loader = BatchLoader(
            ds, 4, shuffle=False, augment=None, mean=mean, std=std, channels_last=cl
        )
        batches = list(loader)
        assert [tuple(b[0].shape) for b in batches] == [(4, 3, 4, 4), (2, 3, 4, 4)]
        xb, yb = batches[0]
        assert xb.dtype == torch.float32 and yb.dtype == torch.int64
        fmt = torch.channels_last if cl else torch.contiguous_format
        assert xb.is_contiguous(memory_format=fmt)
        for ch in range(3):
            want = (100 / 255 - mean[ch]) / std[ch]
            torch.testing.assert_close(
                xb[:, ch], torch.full_like(xb[:, ch], want), rtol=0, atol=1e-5
            )


def test_crop_flip_matches_per_sample_reference() -> None:
    ds = _ids_dataset(16, c=3, h=7, w=9)
    g = torch.Generator().manual_seed(1)
    p = 3
    offsets = torch.randint(0, 2 * p + 1, (16, 2), generator=g)
    flips = torch.randint(0, 2, (16,), generator=g).bool()
    out = crop_flip(ds.x, offsets, flips, p)
    assert out.shape == ds.x.shape and out.is_contiguous(memory_format=torch.channels_last)
    for i in range(16):
        oy, ox = offsets[i].tolist()
        assert torch.equal(out[i], _reference(ds.x[i], oy, ox, bool(flips[i]), p))
    # the extreme offsets expose zero borders of width p
    corner = crop_flip(ds.x[:1], torch.tensor([[0, 0]]), None, p)[0]
    assert int(corner[:, :p].sum()) == 0 and int(corner[:, :, :p].sum()) == 0
    assert torch.equal(corner[:, p:, p:], ds.x[0, :, : 7 - p, : 9 - p])


def test_loader_crops_are_true_shifted_crops() -> None:
    ds = _ids_dataset(40, h=8, w=8)
    p = 4
    loader = _loader(
        ds, 10, augment=Augment(crop_padding=p, hflip=True), mean=(0.0,), std=(1 / 255,)
    )
    x, y = next(iter(loader))
    pixels = x.round().to(torch.int64)  # std=1/255 undoes the /255, so x holds the pixel values
    seen_offsets = set()
    for i in range(10):
        src = ds.x[int(y[i])]
        matches = [
            (oy, ox, fl)
            for oy in range(2 * p + 1)
            for ox in range(2 * p + 1)
            for fl in (False, True)
            if torch.equal(_reference(src, oy, ox, fl, p).long(), pixels[i])
        ]
        assert len(matches) == 1, f"sample {int(y[i])}: {matches}"
        seen_offsets.add(matches[0][:2])
    assert len(seen_offsets) > 1  # offsets vary per sample


def test_flip_only_and_flip_rate() -> None:
    ds = _ids_dataset(400, h=4, w=5)
    loader = _loader(
        ds, 400, shuffle=False, augment=Augment(crop_padding=0, hflip=True), std=(1 / 255,)
    )
    x, y = next(iter(loader))
    pixels = x.round().to(torch.uint8)
    same = (pixels == ds.x).flatten(1).all(1)
    mirrored = (pixels == ds.x.flip(-1)).flatten(1).all(1)
    assert bool((same | mirrored).all())
    assert 0.4 < float(mirrored.float().mean()) < 0.6


def test_no_augment_returns_the_images_in_order() -> None:
    ds = _ids_dataset(10)
    loader = _loader(ds, 4, shuffle=False, augment=None, std=(1 / 255,))
    xs, ys = zip(*loader, strict=True)
    assert torch.equal(torch.cat(ys), torch.arange(10))
    assert torch.equal(torch.cat(xs).round().to(torch.uint8), ds.x)
    # Augment with nothing active behaves like None
    off = _loader(
        ds, 4, shuffle=False, augment=Augment(crop_padding=0, hflip=False), std=(1 / 255,)
    )
    assert torch.equal(torch.cat([b[0] for b in off]), torch.cat(xs))


def test_determinism_per_seed_and_epoch_and_global_rng_untouched() -> None:
    ds = _ids_dataset(50)
    torch.manual_seed(123)
    state = torch.get_rng_state()

    def run(seed: int, epoch: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
        loader = _loader(ds, 16, seed=seed)
        loader.set_epoch(epoch)
        return list(loader)

    a, b = run(0, 3), run(0, 3)
    assert all(
        torch.equal(p[0], q[0]) and torch.equal(p[1], q[1]) for p, q in zip(a, b, strict=True)
    )
    c = run(0, 4)
    assert not torch.equal(a[0][1], c[0][1])
    d = run(1, 3)
    assert not torch.equal(a[0][1], d[0][1])
    assert torch.equal(torch.get_rng_state(), state)
    # iterating the same loader twice at the same epoch repeats the epoch exactly
    loader = _loader(ds, 16)
    first, second = list(loader), list(loader)
    assert all(torch.equal(p[0], q[0]) for p, q in zip(first, second, strict=True))
    # each epoch is a permutation of all samples
    assert torch.equal(torch.sort(torch.cat([y for _, y in a])).values, torch.arange(50))


def test_drop_last() -> None:
    ds = _ids_dataset(10)
    keep = _loader(ds, 4)
    drop = _loader(ds, 4, drop_last=True)
    assert len(keep) == 3 and len(drop) == 2
    assert [len(y) for _, y in keep] == [4, 4, 2]
    assert [len(y) for _, y in drop] == [4, 4]
    assert torch.equal(torch.sort(torch.cat([y for _, y in keep])).values, torch.arange(10))


@pytest.mark.parametrize("n", [96, 103, 50])
def test_two_ranks_equal_one_rank_with_double_batch(n: int) -> None:
    ds = _ids_dataset(n)
    single = list(_loader(ds, 16, seed=7))
    ranks = [list(_loader(ds, 8, seed=7, rank=r, world_size=2)) for r in range(2)]
    assert len(ranks[0]) == len(ranks[1]) == len(single)
    for step, (x1, y1) in enumerate(single):
        (xa, ya), (xb, yb) = ranks[0][step], ranks[1][step]
        assert torch.equal(torch.cat([ya, yb]), y1)
        assert torch.equal(torch.cat([xa, xb]), x1)
        if step < n // 16:
            assert len(ya) == len(yb) == 8


def test_uneven_tail_and_consistent_skip() -> None:
    # 103 = 6*16 + 7: the tail of 7 splits 4 / 3
    assert shard_spans(103, 8, 0, 2, False)[-1] == (96, 100)
    assert shard_spans(103, 8, 1, 2, False)[-1] == (100, 103)
    # 3 ranks, tail of 2 < 3: every rank skips it
    for r in range(3):
        assert shard_spans(14, 4, r, 3, False) == [(r * 4, r * 4 + 4)]


@pytest.mark.parametrize("drop_last", [False, True])
def test_len_equal_across_ranks_and_no_empty_batches(drop_last: bool) -> None:
    for n in (1, 5, 17, 33, 64):
        ds = _ids_dataset(n, h=2, w=2)
        for world in (1, 2, 3, 4):
            loaders = [
                _loader(ds, 4, rank=r, world_size=world, drop_last=drop_last) for r in range(world)
            ]
            lens = {len(ld) for ld in loaders}
            assert len(lens) == 1
            seen = []
            for ld in loaders:
                batches = [y for _, y in ld]
                assert len(batches) == len(ld) and all(len(y) > 0 for y in batches)
                seen.append(torch.cat(batches) if batches else torch.empty(0, dtype=torch.int64))
            ids = torch.cat(seen)
            assert len(torch.unique(ids)) == len(ids)  # no sample on two ranks
            rem = n % (4 * world)
            expected = n - rem if drop_last or rem < world else n
            assert len(ids) == expected


def test_bad_arguments() -> None:
    ds = _ids_dataset(4)
    with pytest.raises(ValueError, match="rank"):
        _loader(ds, 2, rank=2, world_size=2)
    with pytest.raises(ValueError, match="batch_size"):
        _loader(ds, 0)
    with pytest.raises(ValueError, match="mean"):
        _loader(ds, 2, mean=(0.1, 0.2))
    with pytest.raises(ValueError, match="std"):
        _loader(ds, 2, std=(0.0,))
    with pytest.raises(ValueError, match="augment.crop_padding"):
        Augment(crop_padding=-1)
    with pytest.raises(ValueError, match="epoch"):
        _loader(ds, 2).set_epoch(-1)


def test_normalize_function() -> None:
    x = torch.tensor([0, 51, 255], dtype=torch.uint8).view(1, 1, 1, 3)
    out = normalize(x, [0.2], [0.5])
    torch.testing.assert_close(out.flatten(), torch.tensor([-0.4, 0.0, 1.6]), atol=1e-6, rtol=0)


def test_batch_time_is_far_below_a_training_step() -> None:
    # one intra-op thread: the data path must be fast without parallelism, and a single thread is
    # robust when other processes share the cores (2 contended OpenMP threads can stall)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        ds = _ids_dataset(20_000, h=32, w=32)
        loader = _loader(ds, 128, mean=(0.49, 0.48, 0.45), std=(0.2, 0.2, 0.2))
        it = iter(loader)
        for _ in range(3):
            next(it)
        times = []
        for _ in range(30):
            t = time.perf_counter()
            x, _ = next(it)
            times.append(time.perf_counter() - t)
    finally:
        torch.set_num_threads(threads)
    median = sorted(times)[len(times) // 2]
    assert x.shape == (128, 3, 32, 32)
    assert median < 0.030, f"median batch time {median * 1e3:.1f} ms"
