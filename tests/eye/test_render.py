"""The synthetic eye renderer: exact openness labels, closed lids, determinism, speed-independent
properties (the speed is in benchmarks/eye_render.py)."""

from __future__ import annotations

import pytest
import torch

from slimkit.eye import render, render_eyes, sample_identities, sweep_identities


def _upright(n: int, seed: int = 0, mode: str = "visible") -> dict[str, torch.Tensor]:
    params = sample_identities(n, mode=mode, seed=seed)
    params["angle"] = torch.zeros(n)
    params["scale"] = torch.ones(n)
    params["tilt"] = torch.zeros(n)
    return params


def test_openness_is_lid_gap_over_open_height():
    size, levels = 160, [0.0, 0.25, 0.5, 0.75, 1.0]
    params = {k: v.repeat_interleave(len(levels), 0) for k, v in _upright(8).items()}
    batch = render(params, torch.tensor(levels).repeat(8), size=size, masks=True)
    gaps = []
    for i in range(len(batch.openness)):
        col = int(batch.pupil[i, 0].round().clamp(0, size - 1))
        gaps.append(int(batch.aperture[i, :, col].sum()))
    gaps = torch.tensor(gaps, dtype=torch.float32).view(8, len(levels))
    assert (gaps[:, 0] == 0).all()  # closed: the lids meet
    ratio = gaps / gaps[:, -1:]
    error = (ratio - torch.tensor(levels)).abs().max()
    assert error <= 2.5 / gaps[:, -1].min()  # pixel quantization (measured 0.9 px)


def test_sweep_aperture_grows_with_openness_and_closed_shows_no_eye():
    batch = render_eyes(21, size=64, seed=5, openness=torch.linspace(0, 1, 21), masks=True)
    assert batch.aperture[0].sum() == 0
    params = {k: v[:1].repeat(21, *[1] * (v.dim() - 1)) for k, v in sample_identities(1).items()}
    swept = render(params, torch.linspace(0, 1, 21), size=64, masks=True)
    area = swept.aperture.flatten(1).sum(1)
    assert (area[1:] >= area[:-1]).all() and area[0] == 0 and area[-1] > 100


def test_pupil_label_sits_on_the_dark_pupil():
    params = _upright(60, seed=2)
    params["jpeg"] = torch.zeros(60)
    params["glints"] = torch.zeros(60)
    batch = render(params, torch.ones(60), size=96)
    img = batch.images[:, 0].float()
    x = batch.pupil[:, 0].round().long().clamp(0, 95)
    y = batch.pupil[:, 1].round().long().clamp(0, 95)
    at_pupil = img[torch.arange(60), y, x]
    darker = (at_pupil < img.flatten(1).mean(1) - 20).float().mean()
    assert darker >= 0.9  # measured 1.0


def test_deterministic_and_modes_differ():
    a = sweep_identities(3, 4, size=32, mode="ir", seed=1)
    b = sweep_identities(3, 4, size=32, mode="ir", seed=1)
    c = sweep_identities(3, 4, size=32, mode="visible", seed=1)
    assert torch.equal(a.images, b.images) and not torch.equal(a.images, c.images)


def test_bad_mode_is_one_line():
    with pytest.raises(ValueError, match="eye render mode: expected one of ir, visible, got 'rgb'"):
        render_eyes(2, mode="rgb")


def test_vectorized_jpeg_matches_pillow() -> None:
    """The renderer's JPEG step (8x8 DCT + Annex K table) against Pillow's real encoder."""
    import io

    import numpy as np
    from PIL import Image

    from slimkit.eye.render import jpeg_artefacts, render_eyes

    batch = render_eyes(32, size=48, seed=3)
    for quality in (25, 90):
        ours = jpeg_artefacts(batch.images[:, 0].float(), torch.full((32,), float(quality)))
        ref = []
        for im in batch.images[:, 0].numpy():
            buf = io.BytesIO()
            Image.fromarray(im).save(buf, format="JPEG", quality=quality)
            ref.append(np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("L")))
        diff = (ours.clamp(0, 255).round() - torch.tensor(np.stack(ref)).float()).abs().mean()
        change = (ours - batch.images[:, 0].float()).abs().mean()
        # measured: 0.13 (q 25) / 0.20 (q 90) grey levels from Pillow; the artefacts themselves
        # change the image by 4.8 / 1.5 levels
        assert float(diff) < 0.4 and float(change) > 1.0
    untouched = jpeg_artefacts(batch.images[:, 0].float(), torch.zeros(32))
    assert torch.equal(untouched, batch.images[:, 0].float())
