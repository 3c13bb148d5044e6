"""``synthetic_eyes``: rendered eye crops with exact openness labels (:mod:`slimkit.eye.render`)."""

from __future__ import annotations

import torch

from slimkit.data.dataset import ArrayDataset, DatasetSplits, make_splits

CHUNK = 2048  # images rendered per call (bounded memory; each chunk has its own seed)


def _render_split(n: int, size: int, mode: str, seed: int, target: str) -> ArrayDataset:
    from slimkit.eye.render import render_eyes

    images, openness, gaze, pupil = [], [], [], []
    for start in range(0, n, CHUNK):
        batch = render_eyes(
            min(CHUNK, n - start), size=size, mode=mode, seed=seed * 100_003 + start
        )
        images.append(batch.images)
        openness.append(batch.openness)
        gaze.append(batch.gaze)
        pupil.append(batch.pupil)
    o = torch.cat(openness)
    extras = {"gaze": torch.cat(gaze), "pupil": torch.cat(pupil), "openness": o}
    if target == "class":
        return ArrayDataset(torch.cat(images), (o >= 0.5).long(), ["closed", "open"], extras=extras)
    return ArrayDataset(torch.cat(images), o, ["openness"], extras=extras)


def load_synthetic_eyes(
    *,
    root: str | None = None,
    download: bool = False,
    train: int = 20_000,
    test: int = 2_000,
    size: int = 48,
    mode: str = "ir",
    seed: int = 0,
    target: str = "openness",
) -> DatasetSplits:
    """Render a fixed synthetic eye set in memory (grey ``1 x size x size``), deterministic.

    ``target: openness`` gives float targets in [0, 1] (the regression task); ``class`` gives
    0 closed / 1 open (openness >= 0.5). Every sample also carries ``extras`` ``openness``,
    ``gaze`` and ``pupil``. The test split uses a different seed from train.

    Args:
        root: Unused (nothing is read).
        download: Unused.
        train, test: Images per split.
        size: Side in pixels.
        mode: ``"ir"`` (MRL-like) or ``"visible"`` (CEW-like) grey.
        seed: Seed of the whole set.
        target: ``"openness"`` or ``"class"``.

    Example:
        >>> s = load_synthetic_eyes(train=8, test=4, size=16)
        >>> s.train.x.shape, s.num_classes, s.target_dim, float(s.train.y.max()) <= 1.0
        (torch.Size([8, 1, 16, 16]), 0, 1, True)
    """
    if target not in ("openness", "class"):
        raise ValueError(
            f"dataset.target: expected 'openness' or 'class' for dataset 'synthetic_eyes', "
            f"got {target!r}"
        )
    for key, value in (("train", train), ("test", test)):
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"dataset.{key}: expected a positive image count, got {value!r}")
    return make_splits(
        "synthetic_eyes",
        _render_split(train, size, mode, 2 * seed, target),
        _render_split(test, size, mode, 2 * seed + 1, target),
    )
