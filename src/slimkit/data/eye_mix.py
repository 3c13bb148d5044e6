"""``eye_mix``: rendered synthetic eyes (exact openness) mixed with real open/closed eye crops.

The dataset of the weakly supervised eye-openness task (:mod:`slimkit.tasks.eye`). Every row's
target is ``float32 (N, 3)``: ``[value, domain, identity]`` where

- ``domain`` 0 is a synthetic eye and ``value`` its exact openness in [0, 1];
- ``domain`` 1 is a real eye and ``value`` its label, 0.0 closed / 1.0 open;
- ``domain`` 2 (test split only) is one image of a monotonicity sweep: ``identity`` is the rendered
  identity and ``value`` the openness level it was rendered at (``sweep_identities`` identities x
  ``sweep_levels`` levels from 0 to 1, :func:`slimkit.eye.render.sweep_identities`).

The synthetic images are rendered at the real set's size, in the real set's look (``visible`` grey
for CEW, ``ir`` for MRL). Train = synthetic train + real train (``real_train: false`` drops the real
rows: the "synthetic only" ablation; ``synthetic: 0`` gives "real only"). Test = synthetic test +
real test + the sweep. A shuffled loader then draws synthetic and real rows into every batch in
proportion to their counts. The real set's groups (faces, subjects) are kept, each synthetic image
is its own group, so a validation split carved from train keeps a face on one side.
"""

from __future__ import annotations

import torch

from slimkit.data.dataset import ArrayDataset, DatasetSplits, make_splits

SYNTHETIC, REAL, SWEEP = 0, 1, 2
COLUMNS = ["openness", "domain", "identity"]
LOOK = {"cew_eyes": "visible", "mrl_eyes": "ir"}


def _rows(
    x: torch.Tensor, value: torch.Tensor, domain: int, identity: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    ident = torch.full_like(value, -1.0) if identity is None else identity.float()
    y = torch.stack([value.float(), torch.full_like(value.float(), float(domain)), ident], 1)
    return x, y


def _synthetic(n: int, size: int, mode: str, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    from slimkit.data.synthetic_eyes import load_synthetic_eyes

    if n == 0:
        return torch.zeros(0, 1, size, size, dtype=torch.uint8), torch.zeros(0, 3)
    s = load_synthetic_eyes(train=n, test=1, size=size, mode=mode, seed=seed)
    return _rows(s.train.x, s.train.y, SYNTHETIC)


def _sweep(identities: int, levels: int, size: int, mode: str) -> tuple[torch.Tensor, torch.Tensor]:
    from slimkit.eye.render import sweep_identities

    if identities == 0:
        return torch.zeros(0, 1, size, size, dtype=torch.uint8), torch.zeros(0, 3)
    batch = sweep_identities(identities, levels, size=size, mode=mode, seed=12345)
    ident = torch.arange(identities).repeat_interleave(levels)
    return _rows(batch.images, batch.openness, SWEEP, ident)


def _join(
    parts: list[tuple[torch.Tensor, torch.Tensor]], groups: list[torch.Tensor]
) -> ArrayDataset:
    x = torch.cat([p[0] for p in parts])
    y = torch.cat([p[1] for p in parts])
    return ArrayDataset(x, y, COLUMNS, groups=torch.cat(groups))


def load_eye_mix(
    *,
    root: str | None = None,
    download: bool = False,
    real: str = "cew_eyes",
    synthetic: int = 4000,
    synthetic_test: int = 1000,
    real_train: bool = True,
    mode: str | None = None,
    sweep_identities: int = 50,
    sweep_levels: int = 21,
    seed: int = 0,
) -> DatasetSplits:
    """Synthetic + real eyes with ``[value, domain, identity]`` targets (see the module docstring).

    Args:
        root: Where the real dataset is (passed to it).
        download: Unused (nothing is downloaded).
        real: The real dataset: ``cew_eyes`` or ``mrl_eyes``.
        synthetic: Synthetic training images (0: real only).
        synthetic_test: Synthetic test images (MAE, Spearman against the exact openness).
        real_train: Whether the real training images are in train (false: synthetic only).
        mode: Renderer look, ``visible`` or ``ir`` (default: the real set's look).
        sweep_identities, sweep_levels: The monotonicity sweep in the test split.
        seed: Seed of the synthetic images.
    """
    from slimkit.data.registry import load_dataset

    if real not in LOOK:
        raise ValueError(f"data.kwargs.real: expected one of {sorted(LOOK)}, got {real!r}")
    for key, value in (("synthetic", synthetic), ("synthetic_test", synthetic_test)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"data.kwargs.{key}: expected an image count >= 0, got {value!r}")
    if synthetic == 0 and not real_train:
        raise ValueError(
            "data.kwargs: synthetic: 0 with real_train: false leaves no training image"
        )
    look = mode or LOOK[real]
    base = load_dataset(real, root=root, target="class")
    size = int(base.input_size[1])
    real_parts = {}
    real_groups = {}
    offset = 0
    for split in ("train", "test"):
        ds = getattr(base, split)
        g = ds.groups if ds.groups is not None else torch.arange(len(ds))
        real_parts[split] = _rows(ds.x, ds.y.float(), REAL)
        real_groups[split] = g
        offset = max(offset, int(g.max()) + 1 if len(g) else 0)

    syn_train = _synthetic(synthetic, size, look, 2 * seed)
    syn_test = _synthetic(synthetic_test, size, look, 2 * seed + 1)
    sweep = _sweep(sweep_identities, sweep_levels, size, look)

    def own_groups(n: int, start: int) -> torch.Tensor:
        return torch.arange(start, start + n)

    train_parts = [syn_train] + ([real_parts["train"]] if real_train else [])
    train_groups = [own_groups(len(syn_train[0]), offset)]
    if real_train:
        train_groups.append(real_groups["train"])
    test_parts = [syn_test, real_parts["test"], sweep]
    test_groups = [
        own_groups(len(syn_test[0]), offset),
        real_groups["test"],
        own_groups(len(sweep[0]), offset + len(syn_test[0])),
    ]
    return make_splits("eye_mix", _join(train_parts, train_groups), _join(test_parts, test_groups))
