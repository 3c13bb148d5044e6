"""Synthetic eye renderer with exact openness labels (vectorized torch, no graphics dependency).

The eye-closeness paper (digest §3) trains on 1.3 M rendered faces that were never released, so
slimkit draws its own eye crops. Everything here is ours (a reconstruction): an eye region in
normalized coordinates ``e`` (x to the right, y down, the eye corners near ``x = ±a``), drawn
analytically at every pixel with one-pixel soft edges:

- **lids**: the fully open upper and lower lid margins ``U(x) = c - h_u w(x)`` and
  ``L(x) = c + h_l w(x)`` with ``w(x) = (1 - (x/a)^2)^k``; they close towards the line
  ``C(x) = U + m (L - U)`` (``m`` ≈ 0.7: the upper lid does most of the work). At openness ``o`` the
  margins are ``C + o (U - C)`` and ``C + o (L - C)``, so the lid gap at any ``x`` (in particular
  on the vertical through the iris centre) is exactly ``o`` times the fully open gap: **openness
  = lid gap / open eye height**, 0 = lids meet, 1 = fully open;
- inside the aperture: sclera with lid shadow, an iris disc (radial texture, dark limbal ring) and
  a pupil placed by the gaze, specular glints;
- outside: skin with a tone, low-frequency texture and a lighting gradient, the upper-lid crease,
  eyelashes along the upper margin, the eyebrow's lower edge;
- two grey modes: ``"ir"`` (MRL-like near-infrared: bright, flat skin, dark or bright pupil,
  strong glints from the illuminator) and ``"visible"`` (CEW-like: darker skin, bright sclera,
  dark iris);
- scale/rotation/translation jitter, blur, sensor noise and JPEG artefacts.

Labels are exact by construction: ``openness``, ``gaze`` (x, y in [-1, 1]) and the pupil centre
in pixels. Deterministic from ``seed``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

__all__ = ["EyeBatch", "MODES", "render_eyes", "sample_identities", "render", "sweep_identities"]

MODES = ("ir", "visible")
_HALF_WIDTH = 0.78  # a: eye corners at x = ±a (normalized units; the crop spans [-1, 1])


@dataclass
class EyeBatch:
    """Rendered eyes and their exact labels.

    Attributes:
        images: ``uint8 (n, 1, size, size)`` grey crops.
        openness: ``float (n,)`` in [0, 1].
        gaze: ``float (n, 2)`` gaze direction (x right, y down) in [-1, 1].
        pupil: ``float (n, 2)`` pupil centre in pixels (x, y), after the jitter.
        aperture: ``bool (n, size, size)`` pixels between the lid margins (only with
            ``masks=True``).
    """

    images: torch.Tensor
    openness: torch.Tensor
    gaze: torch.Tensor
    pupil: torch.Tensor
    aperture: torch.Tensor | None = None


def _uniform(gen: torch.Generator, n: int, low: float, high: float) -> torch.Tensor:
    return low + (high - low) * torch.rand(n, generator=gen)


def sample_identities(n: int, *, mode: str = "ir", seed: int = 0) -> dict[str, torch.Tensor]:
    """Appearance and pose of ``n`` eyes (everything but the openness), one tensor per field.

    Example:
        >>> p = sample_identities(3, seed=1)
        >>> sorted(p)[:3], p["gaze"].shape
        (['angle', 'blur', 'brow'], torch.Size([3, 2]))
    """
    if mode not in MODES:
        raise ValueError(f"eye render mode: expected one of {', '.join(MODES)}, got {mode!r}")
    g = torch.Generator().manual_seed(int(seed))
    u = lambda lo, hi: _uniform(g, n, lo, hi)  # noqa: E731
    ir = mode == "ir"
    return {
        "ir": torch.full((n,), float(ir)),
        "h_up": u(0.30, 0.42),
        "h_low": u(0.14, 0.22),
        "shape_k": u(0.6, 1.1),
        "close_at": u(0.62, 0.80),
        "tilt": u(-0.08, 0.08),  # outer-corner lift
        "iris_r": u(0.26, 0.33),
        "pupil_frac": u(0.30, 0.55),
        "gaze": torch.stack([u(-1, 1), u(-0.6, 0.6)], dim=1),
        "skin": u(0.55, 0.85) if ir else u(0.30, 0.70),
        "sclera": u(0.75, 0.92) if ir else u(0.70, 0.95),
        "iris": u(0.25, 0.55) if ir else u(0.08, 0.45),
        "pupil": torch.where(torch.rand(n, generator=g) < 0.2, u(0.8, 1.0), u(0.02, 0.12))
        if ir
        else u(0.0, 0.08),
        "glints": u(0.5, 1.0) if ir else u(0.0, 0.7),
        "glint_dx": u(-0.5, 0.5),
        "glint_dy": u(-0.5, 0.2),
        "lash": u(0.3, 0.9),
        "lash_freq": u(45, 120),
        "crease": u(0.1, 0.35),
        "brow": u(0.0, 0.6),
        "brow_y": u(-1.05, -0.70),
        "light_x": u(-0.35, 0.35),
        "light_y": u(-0.25, 0.25),
        "contrast": u(0.6, 1.1),
        "scale": u(0.95, 1.30),
        "angle": u(-0.25, 0.25),
        "shift": torch.stack([u(-0.12, 0.12), u(-0.12, 0.12)], dim=1),
        "blur": u(0.0, 1.0),
        "noise": u(0.005, 0.04),
        "jpeg": torch.where(torch.rand(n, generator=g) < 0.5, u(25, 90).round(), torch.zeros(n)),
        "texture_seed": torch.randint(0, 2**31 - 1, (n,), generator=g).float(),
    }


def _soft(d: torch.Tensor, px: float) -> torch.Tensor:
    """1 inside (d > 0), 0 outside, a linear ramp one pixel wide."""
    return (d / px + 0.5).clamp(0.0, 1.0)


def _bump(d: torch.Tensor, width: torch.Tensor | float) -> torch.Tensor:
    """A smooth bump, 1 at ``d = 0`` and 0 beyond ``|d| = width`` (cheaper than a Gaussian)."""
    t = (1 - (d / width) ** 2).clamp(min=0.0)
    return t * t


def _textures(n: int, size: int, gen: torch.Generator) -> torch.Tensor:
    """Skin texture: two octaves of smooth noise (6 and 14 cells) in one interpolation."""
    coarse = F.interpolate(torch.rand(n, 1, 6, 6, generator=gen) * 2 - 1, size=(14, 14),
                           mode="bilinear", align_corners=False)  # fmt: skip
    grid = 0.06 * coarse + 0.03 * (torch.rand(n, 1, 14, 14, generator=gen) * 2 - 1)
    return F.interpolate(grid, size=(size, size), mode="bilinear", align_corners=False)[:, 0]


# JPEG's luminance quantization table (ITU-T T.81 Annex K, Table K.1), row-major 8x8.
_LUMA_Q = torch.tensor(
    [16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55,
     14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51, 87, 80, 62,
     18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
     49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99],
    dtype=torch.float32,
).view(8, 8)  # fmt: skip


def _dct_matrix() -> torch.Tensor:
    """The orthonormal 8-point DCT-II matrix ``D`` (a block's coefficients are ``D X D^T``)."""
    k = torch.arange(8, dtype=torch.float64).view(8, 1)
    i = torch.arange(8, dtype=torch.float64).view(1, 8)
    d = torch.cos((2 * i + 1) * k * torch.pi / 16) * (2.0 / 8) ** 0.5
    d[0] /= 2**0.5
    return d.float()


_DCT = _dct_matrix()


def jpeg_artefacts(images: torch.Tensor, quality: torch.Tensor) -> torch.Tensor:
    """Baseline greyscale JPEG's lossy step, vectorized: level shift, 8x8 block DCT, rounding to
    the Annex K luminance table scaled by ``quality`` (the IJG rule), inverse DCT. Images whose
    quality is 0 are returned unchanged. (The entropy coding JPEG adds is lossless.)

    Args:
        images: ``float (n, H, W)`` in [0, 255].
        quality: ``(n,)`` JPEG quality 1-100, or 0 for none.

    Example:
        >>> flat = torch.full((1, 8, 8), 100.0)
        >>> torch.equal(jpeg_artefacts(flat, torch.tensor([50.0])), flat)  # DC only: exact
        True
    """
    n, h, w = images.shape
    q = quality.float().clamp(0, 100)
    scale = torch.where(q < 50, 5000 / q.clamp(min=1), 200 - 2 * q)
    table = ((_LUMA_Q * scale.view(n, 1, 1, 1, 1) + 50) / 100).floor().clamp(1, 255)
    ph, pw = -h % 8, -w % 8
    x = F.pad(images[:, None], (0, pw, 0, ph), mode="replicate")[:, 0] - 128
    blocks = x.view(n, (h + ph) // 8, 8, (w + pw) // 8, 8).transpose(2, 3)  # (n, by, bx, 8, 8)
    coef = _DCT @ blocks @ _DCT.t()
    coef = (coef / table).round() * table
    out = (_DCT.t() @ coef @ _DCT).transpose(2, 3).reshape(n, h + ph, w + pw)[:, :h, :w] + 128
    keep = (q > 0).view(n, 1, 1)
    return torch.where(keep, out, images)


CHUNK = 128  # eyes drawn per pass: (128, size, size) float maps stay in the CPU cache


def render(
    params: dict[str, torch.Tensor],
    openness: torch.Tensor,
    *,
    size: int = 48,
    seed: int = 0,
    masks: bool = False,
) -> EyeBatch:
    """Draw the eyes ``params`` (from :func:`sample_identities`) at ``openness``.

    The eyes are drawn ``CHUNK`` at a time (each chunk with its own seed derived from ``seed``):
    every step is an elementwise map over ``(n, size, size)``, memory-bound, and small chunks
    keep those maps in the cache (48 x 48, 2 cores, 2026-12-03: chunks of 16 / 32 / 64 / 128 /
    unchunked 512 gave 1,900 / 2,700 / 3,200 / 3,500 / 2,900 images/s; benchmarks/eye_render.py).

    Args:
        params: Appearance and pose per eye.
        openness: ``(n,)`` values in [0, 1].
        size: Output side in pixels.
        seed: Seed of the per-image noise and textures.
        masks: Also return the lid aperture mask.
    """
    o = torch.as_tensor(openness, dtype=torch.float32).clamp(0.0, 1.0).reshape(-1)
    parts = [
        _render_chunk(
            {k: v[i : i + CHUNK] for k, v in params.items()},
            o[i : i + CHUNK],
            size=size,
            seed=int(seed) * 1_000_003 + i // CHUNK,
            masks=masks,
        )
        for i in range(0, o.numel(), CHUNK)
    ]
    if len(parts) == 1:
        return parts[0]
    return EyeBatch(
        images=torch.cat([b.images for b in parts]),
        openness=torch.cat([b.openness for b in parts]),
        gaze=torch.cat([b.gaze for b in parts]),
        pupil=torch.cat([b.pupil for b in parts]),
        aperture=torch.cat([b.aperture for b in parts]) if masks else None,
    )


def _render_chunk(
    params: dict[str, torch.Tensor],
    o: torch.Tensor,
    *,
    size: int,
    seed: int,
    masks: bool,
) -> EyeBatch:
    """:func:`render` for one chunk of eyes."""
    n = o.numel()
    gen = torch.Generator().manual_seed(int(seed))
    col = lambda key: params[key].view(n, 1, 1)  # noqa: E731
    px = 2.0 / size  # one pixel in normalized units (scale 1)
    # Pixel centres -> eye coordinates: e = R(-angle) (p - shift) / scale.
    lin = (torch.arange(size, dtype=torch.float32) + 0.5) * px - 1.0
    py, pxg = torch.meshgrid(lin, lin, indexing="ij")
    cx = pxg - params["shift"][:, 0].view(n, 1, 1)
    cy = py - params["shift"][:, 1].view(n, 1, 1)
    cos, sin = torch.cos(col("angle")), torch.sin(col("angle"))
    x = (cos * cx + sin * cy) / col("scale")
    y = (-sin * cx + cos * cy) / col("scale")
    ppx = px / col("scale")  # a pixel in eye units

    a = _HALF_WIDTH
    w = (1 - (x / a) ** 2).clamp(min=0.0) ** col("shape_k")
    base = col("tilt") * (-x / a)
    upper_open = base - col("h_up") * w
    lower_open = base + col("h_low") * w
    closed = upper_open + col("close_at") * (lower_open - upper_open)
    oo = o.view(n, 1, 1)
    upper = closed + oo * (upper_open - closed)
    lower = closed + oo * (lower_open - closed)
    inside = _soft(torch.minimum(y - upper, lower - y), ppx) * (w > 0)

    # Skin: tone, texture, lighting gradient; crease above the lid, eyebrow edge near the top.
    texture = _textures(n, size, gen)
    light = 1 + col("light_x") * x + col("light_y") * y
    skin = col("skin") * light + texture
    crease_y = upper_open - 0.16 - 0.05 * w
    skin = skin - col("crease") * _bump(y - crease_y, 0.09 + 2 * ppx) * (w > 0.05)
    brow = _soft(col("brow_y") + 0.08 * (x / a) ** 2 - y, 2 * ppx)
    skin = skin * (1 - col("brow") * brow * (0.8 + 0.4 * texture.abs() * 5))
    # Lid shading: the closed lid's fold shows as a dark line where the margins meet.
    fold = _bump(y - upper, 0.04 + 2 * ppx) * (w > 0)
    skin = skin * (1 - 0.35 * (1 - oo) * fold)

    # Eyeball: sclera, iris, pupil; lid shadow on the upper part.
    gaze = params["gaze"]
    ix = (gaze[:, 0] * 0.42 * a).view(n, 1, 1)
    iy = (gaze[:, 1] * 0.10 + 0.02).view(n, 1, 1)
    r = torch.sqrt((x - ix) ** 2 + (y - iy) ** 2)
    theta = torch.atan2(y - iy, x - ix)
    iris_r = col("iris_r")
    iris_mask = _soft(iris_r - r, ppx)
    pupil_mask = _soft(iris_r * col("pupil_frac") - r, ppx)
    streaks = 0.06 * torch.cos(17 * theta + col("texture_seed") % 7) + 0.04 * torch.cos(41 * theta)
    limbus = ((r / iris_r).clamp(max=1.0) ** 6) * 0.5
    iris = col("iris") * (1 + streaks - limbus)
    sclera = col("sclera") * light - 0.25 * _soft(upper + 0.10 - y, 3 * ppx)
    eye = sclera * (1 - iris_mask) + iris * iris_mask
    eye = eye * (1 - pupil_mask) + col("pupil") * pupil_mask
    glint = _bump(
        torch.sqrt(
            (x - ix - col("glint_dx") * iris_r) ** 2 + (y - iy - col("glint_dy") * iris_r) ** 2
        ),
        0.06 + 2 * ppx,
    )
    eye = eye + col("glints") * glint

    image = skin * (1 - inside) + eye * inside
    # Lower lid margin: a thin darker line (the waterline) that outlines the opening.
    image = image * (1 - 0.25 * _bump(y - lower, 0.03 + 1.5 * ppx) * (w > 0))
    # Eyelashes along the upper margin (darker strands), over skin and eye alike.
    strands = 0.5 + 0.5 * torch.cos(x * col("lash_freq") + col("texture_seed") % 11)
    lashes = _bump(y - upper + 0.015, 0.045 + 2 * ppx) * (w > 0.02)
    image = image * (1 - col("lash") * lashes * (0.6 + 0.4 * strands))
    image = (image - image.mean(dim=(1, 2), keepdim=True)) * col("contrast") + image.mean(
        dim=(1, 2), keepdim=True
    )

    # Optics and sensor: blur (blended with a 5x5 Gaussian), noise, quantization, JPEG.
    k = torch.exp(-(torch.arange(-2, 3, dtype=torch.float32) ** 2) / (2 * 1.1**2))
    k = k / k.sum()
    padded = F.pad(image[:, None], (2, 2, 2, 2), mode="replicate")
    blurred = F.conv2d(F.conv2d(padded, k.view(1, 1, 1, 5)), k.view(1, 1, 5, 1))[:, 0]
    image = image + col("blur") * (blurred - image)
    image = image + col("noise") * torch.randn(image.shape, generator=gen)
    image = image.clamp(0, 1) * 255
    if bool((params["jpeg"] > 0).any()):
        image = jpeg_artefacts(image.round(), params["jpeg"])
    out = image.clamp(0, 255).round().to(torch.uint8)

    pupil_eye = torch.stack([ix.view(n), iy.view(n)], dim=1)
    scale, angle = params["scale"], params["angle"]
    rx = scale * (torch.cos(angle) * pupil_eye[:, 0] - torch.sin(angle) * pupil_eye[:, 1])
    ry = scale * (torch.sin(angle) * pupil_eye[:, 0] + torch.cos(angle) * pupil_eye[:, 1])
    pupil = (torch.stack([rx, ry], dim=1) + params["shift"] + 1.0) / px - 0.5  # pixel index
    return EyeBatch(
        images=out[:, None],
        openness=o.clone(),
        gaze=gaze.clone(),
        pupil=pupil,
        aperture=(torch.minimum(y - upper, lower - y) > 0) & (w > 0) if masks else None,
    )


def render_eyes(
    n: int,
    *,
    size: int = 48,
    mode: str = "ir",
    seed: int = 0,
    openness: torch.Tensor | None = None,
    masks: bool = False,
) -> EyeBatch:
    """``n`` random eyes (openness uniform in [0, 1] unless given), deterministic from ``seed``.

    Example:
        >>> batch = render_eyes(4, size=32, seed=3)
        >>> batch.images.shape, batch.images.dtype, bool((batch.openness <= 1).all())
        (torch.Size([4, 1, 32, 32]), torch.uint8, True)
        >>> torch.equal(render_eyes(4, size=32, seed=3).images, batch.images)
        True
    """
    if n < 1 or size < 8:
        raise ValueError(f"render_eyes: need n >= 1 and size >= 8, got n={n}, size={size}")
    params = sample_identities(n, mode=mode, seed=seed)
    if openness is None:
        openness = torch.rand(n, generator=torch.Generator().manual_seed(int(seed) + 1))
    return render(params, openness, size=size, seed=int(seed) + 2, masks=masks)


def sweep_identities(
    identities: int, levels: int, *, size: int = 48, mode: str = "ir", seed: int = 0
) -> EyeBatch:
    """Every identity (appearance, pose, gaze) at ``levels`` openness values from 0 to 1,
    identity-major: image ``i * levels + j`` is identity ``i`` at openness ``j / (levels - 1)``.

    Example:
        >>> s = sweep_identities(2, 3, size=24)
        >>> s.openness.tolist()
        [0.0, 0.5, 1.0, 0.0, 0.5, 1.0]
    """
    params = sample_identities(identities, mode=mode, seed=seed)
    params = {k: v.repeat_interleave(levels, dim=0) for k, v in params.items()}
    params["jpeg"] = torch.zeros_like(params["jpeg"])  # same artefacts for every level
    params["noise"] = torch.full_like(params["noise"], 0.01)
    openness = torch.linspace(0, 1, levels).repeat(identities)
    return render(params, openness, size=size, seed=seed + 2)
