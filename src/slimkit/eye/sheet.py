"""Contact sheet of rendered eyes: identities down, openness 0 -> 1 across."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from slimkit.eye.render import sweep_identities

__all__ = ["contact_sheet"]


def contact_sheet(
    path: str | Path,
    *,
    identities: int = 6,
    levels: int = 11,
    size: int = 48,
    modes: tuple[str, ...] = ("ir", "visible"),
    seed: int = 0,
    zoom: int = 2,
) -> Path:
    """Write a PNG grid: for each mode, ``identities`` rows swept over ``levels`` openness
    values from 0 (closed) to 1 (open), each tile ``zoom`` times enlarged.

    Example:
        >>> import tempfile, os
        >>> out = contact_sheet(os.path.join(tempfile.mkdtemp(), "s.png"), identities=2, levels=3,
        ...                     size=16, zoom=1)
        >>> out.stat().st_size > 0
        True
    """
    from PIL import Image

    rows = []
    for m, mode in enumerate(modes):
        batch = sweep_identities(identities, levels, size=size, mode=mode, seed=seed + 1000 * m)
        tiles = batch.images[:, 0].numpy().reshape(identities, levels, size, size)
        rows.append(tiles.transpose(0, 2, 1, 3).reshape(identities * size, levels * size))
        rows.append(np.full((2, levels * size), 255, dtype=np.uint8))  # mode separator
    grid = np.concatenate(rows[:-1], axis=0)
    image = Image.fromarray(grid).resize(
        (grid.shape[1] * zoom, grid.shape[0] * zoom), Image.NEAREST
    )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)
    return path
