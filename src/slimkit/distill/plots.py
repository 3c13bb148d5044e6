"""Figure of the ``distill`` term: KD and feature-affinity (FA/FFA) losses per epoch.

Example:
    >>> import tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp())
    >>> h = [{"distill_kd": 1.0, "distill_fa": 0.3}, {"distill_kd": 0.5, "distill_fa": 0.2}]
    >>> plot_distill_losses(h, out)[0].name
    'distill_losses.png'
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from slimkit.report import new_figure, save_figure

_LABELS = {
    "distill_kd": "logit KD",
    "distill_fa": "feature affinity (FA, exact)",
    "distill_ffa": "fast feature affinity (FFA, sketched)",
}


def plot_distill_losses(
    history: list[dict[str, Any]], out_dir: str | Path, filename: str = "distill_losses.png"
) -> list[Path]:
    """One panel per loss (KD, FA or FFA): the epoch mean over training."""
    keys = [k for k in _LABELS if any(k in h for h in history)]
    if not keys:
        return []
    fig, axes = new_figure(1, len(keys), figsize=(5.0 * len(keys), 3.6))
    axes = [axes] if len(keys) == 1 else list(axes)
    for ax, key in zip(axes, keys, strict=True):
        points = [(i + 1, h[key]) for i, h in enumerate(history) if key in h]
        ax.plot([p[0] for p in points], [p[1] for p in points], marker="o")
        ax.set_xlabel("epoch")
        ax.set_ylabel("loss (epoch mean)")
        ax.set_title(_LABELS[key])
        ax.grid(alpha=0.3)
    return [save_figure(fig, Path(out_dir) / filename)]
