"""Figures of Trained Rank Pruning: ranks per layer over training, singular-value spectra, and
MACs per layer before/after factorization.

Example:
    >>> import tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp())
    >>> log = [{"step": 0, "ranks": [8, 12]}, {"step": 10, "ranks": [6, 9]}]
    >>> plot_rank_history(["a", "b"], [16, 16], log, 20, out)[0].name
    'trp_ranks.png'
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from slimkit.report import new_figure, save_figure

__all__ = ["plot_factorized_macs", "plot_rank_history", "plot_spectra"]


def plot_rank_history(
    names: list[str],
    full_ranks: list[int],
    rank_log: list[dict[str, Any]],
    last_step: int,
    out_dir: str | Path,
    filename: str = "trp_ranks.png",
) -> list[Path]:
    """Rank / full rank of each layer over training steps (left) and the last ranks (right).

    ``rank_log`` holds ``{"step", "ranks"}`` entries where the ranks changed (run-length log).
    """
    steps = [e["step"] for e in rank_log] + [max(last_step, rank_log[-1]["step"])]
    ranks = np.array([e["ranks"] for e in rank_log] + [rank_log[-1]["ranks"]], dtype=float)
    full = np.array(full_ranks, dtype=float)
    fig, (ax_t, ax_b) = new_figure(1, 2, figsize=(13.0, 4.2))
    colors = [f"C{i % 10}" for i in range(len(names))]
    for j, name in enumerate(names):
        ax_t.step(steps, 100 * ranks[:, j] / full[j], where="post", color=colors[j],
                  linewidth=1.0, label=name if len(names) <= 12 else None)  # fmt: skip
    ax_t.set_xlabel("training step")
    ax_t.set_ylabel("rank (% of full rank)")
    ax_t.set_title("ranks per layer at each projection")
    ax_t.grid(alpha=0.3)
    if len(names) <= 12:
        ax_t.legend(fontsize=6, ncol=2)
    x = np.arange(len(names))
    ax_b.bar(x, full, color="#bbbbbb", label="full rank")
    ax_b.bar(x, ranks[-1], color="#1f77b4", label="last projection")
    step = max(1, len(names) // 40)
    ax_b.set_xticks(x[::step], names[::step], rotation=90, fontsize=6)
    ax_b.set_ylabel("rank")
    ax_b.set_title("ranks per layer")
    ax_b.legend()
    return [save_figure(fig, Path(out_dir) / filename)]


def plot_spectra(
    spectra: list[dict[str, Any]], out_dir: str | Path, filename: str = "trp_spectra.png"
) -> list[Path]:
    """σ_i / σ_1 (log scale) of a few layers, one curve per epoch (purple: early, yellow: late).

    Example:
        >>> import tempfile, pathlib
        >>> s = [{"step": 5, "sigma": {"c": [2.0, 1.0, 0.1]}}, {"step": 9, "sigma": {"c": [2.0, 0.5, 0.0]}}]
        >>> plot_spectra(s, pathlib.Path(tempfile.mkdtemp()))[0].name
        'trp_spectra.png'
    """
    layers = list(spectra[0]["sigma"])
    fig, axes = new_figure(1, len(layers), figsize=(4.5 * len(layers), 3.8))
    axes = np.atleast_1d(axes)
    from matplotlib import colormaps

    colors = colormaps["viridis"](
        np.linspace(0.0, 0.9, len(spectra))
    )  # early: purple, late: yellow
    for ax, layer in zip(axes, layers, strict=True):
        for n, (color, entry) in enumerate(zip(colors, spectra, strict=True)):
            s = np.asarray(entry["sigma"][layer], dtype=float)
            rel = s / s[0] if s[0] > 0 else s
            label = f"step {entry['step']}" if n in (0, len(spectra) - 1) else None
            ax.semilogy(np.arange(1, len(s) + 1), np.maximum(rel, 1e-8), color=color,
                        linewidth=0.9, label=label)  # fmt: skip
        ax.legend(fontsize=7)
        ax.set_title(f"{layer} (step {spectra[0]['step']} → {spectra[-1]['step']})", fontsize=8)
        ax.set_xlabel("index i")
        ax.set_ylabel("σ_i / σ_1")
        ax.grid(alpha=0.3)
    return [save_figure(fig, Path(out_dir) / filename)]


def plot_factorized_macs(
    layers: list[dict[str, Any]], out_dir: str | Path, filename: str = "factorize.png"
) -> list[Path]:
    """MACs per eligible layer dense vs factorized, and the chosen rank vs full rank.

    ``layers`` are :class:`~slimkit.lowrank.plan.LayerPlan` records as dicts.

    Example:
        >>> import tempfile, pathlib
        >>> rows = [{"name": "c", "rank": 2, "max_rank": 8, "dense_macs": 100,
        ...          "factorized_macs": 40, "factorize": True}]
        >>> plot_factorized_macs(rows, pathlib.Path(tempfile.mkdtemp()))[0].name
        'factorize.png'
    """
    names = [p["name"] for p in layers]
    x = np.arange(len(names))
    after = [p["factorized_macs"] if p["factorize"] else p["dense_macs"] for p in layers]
    fig, (ax_m, ax_r) = new_figure(1, 2, figsize=(max(10.0, 0.5 * len(names) + 6), 4.2))
    ax_m.bar(x - 0.2, [p["dense_macs"] / 1e6 for p in layers], 0.4, color="#bbbbbb",
             label="before")  # fmt: skip
    ax_m.bar(x + 0.2, [a / 1e6 for a in after], 0.4, color="#1f77b4", label="after")
    ax_m.set_xticks(x, names, rotation=90, fontsize=6)
    ax_m.set_ylabel("MMACs")
    ax_m.set_title("MACs per layer")
    ax_m.legend()
    ax_r.bar(x, [p["max_rank"] for p in layers], color="#bbbbbb", label="full rank")
    ax_r.bar(x, [p["rank"] if p["factorize"] else 0 for p in layers], color="#2ca02c",
             label="factorized at rank")  # fmt: skip
    ax_r.set_xticks(x, names, rotation=90, fontsize=6)
    ax_r.set_ylabel("rank")
    ax_r.set_title("ranks (layers without a green bar stay dense)")
    ax_r.legend()
    return [save_figure(fig, Path(out_dir) / filename)]
