"""Figures of the sparsity methods: scale histograms over epochs, channels per layer.

Example:
    >>> import tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp())
    >>> paths = plot_channels_per_layer({"bn1": 16, "bn2": 32}, {"bn1": 8, "bn2": 30}, out)
    >>> paths[0].name
    'channels_per_layer.png'
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from slimkit.report import new_figure, save_figure


def plot_scale_histograms(
    history: list[dict[str, Any]],
    edges: list[float],
    label: str,
    out_dir: str | Path,
    filename: str = "scale_histograms.png",
) -> list[Path]:
    """Heat map of the |scale| histogram per epoch, and the exact-zero fraction over epochs."""
    counts = np.array([h["hist"] for h in history], dtype=float)  # (epochs, bins)
    counts = counts / counts.sum(axis=1, keepdims=True).clip(min=1)
    epochs = np.arange(1, len(history) + 1)
    fig, (ax_hist, ax_zero) = new_figure(1, 2, figsize=(11.0, 4.0))
    mesh = ax_hist.pcolormesh(
        np.arange(0.5, len(history) + 1),
        np.arange(len(edges)),
        counts.T,
        cmap="viridis",
        shading="flat",
    )
    ticks = [0, *range(2, len(edges), 4)]
    ax_hist.set_yticks(ticks, [("0" if edges[i] == 0 else f"{edges[i]:.0e}") for i in ticks])
    ax_hist.set_xlabel("epoch")
    ax_hist.set_ylabel(f"|{label}| (bin lower edge)")
    ax_hist.set_title(f"histogram of |{label}| per epoch (bottom row: exact zeros)")
    fig.colorbar(mesh, ax=ax_hist, label="fraction of channels")
    ax_zero.plot(epochs, [100 * h["sparsity"] for h in history], marker="o", label="exactly 0")
    ax_zero.plot(
        epochs, [100 * h["scales_below_1e-2"] for h in history], marker="s", label="|scale| < 1e-2"
    )
    ax_zero.set_xlabel("epoch")
    ax_zero.set_ylabel("% of channels")
    ax_zero.set_title("channel sparsity over training")
    ax_zero.grid(alpha=0.3)
    ax_zero.legend()
    return [save_figure(fig, Path(out_dir) / filename)]


def plot_channels_per_layer(
    before: dict[str, int],
    after: dict[str, int],
    out_dir: str | Path,
    filename: str = "channels_per_layer.png",
) -> list[Path]:
    """Bar chart of channels per BN layer before and after pruning."""
    names = list(before)
    x = np.arange(len(names))
    fig, ax = new_figure(figsize=(max(7.0, 0.25 * len(names) + 3), 4.0))
    ax.bar(x, [before[n] for n in names], color="#bbbbbb", label="before")
    ax.bar(x, [after.get(n, 0) for n in names], color="#1f77b4", label="after")
    step = max(1, len(names) // 40)
    ax.set_xticks(x[::step], names[::step], rotation=90, fontsize=6)
    ax.set_ylabel("channels")
    ax.set_title("channels per BN layer")
    ax.legend()
    return [save_figure(fig, Path(out_dir) / filename)]


def plot_lam_controller(
    trace: list[tuple[int, float, float, float]],
    out_dir: str | Path,
    filename: str = "lam_controller.png",
) -> list[Path]:
    """``lam: auto``: λ over steps, and the zeros' MACs fraction against its schedule."""
    steps, lams, fractions, schedule = (np.array(c, dtype=float) for c in zip(*trace, strict=True))
    fig, (ax_lam, ax_frac) = new_figure(1, 2, figsize=(11.0, 4.0))
    ax_lam.semilogy(steps, lams)
    ax_lam.set_xlabel("step")
    ax_lam.set_ylabel("λ")
    ax_lam.set_title("λ steered by the controller")
    ax_lam.grid(alpha=0.3)
    ax_frac.plot(steps, fractions, label="MACs left at the ramp end (predicted)")
    ax_frac.plot(steps, schedule, linestyle="--", label="share")
    ax_frac.set_xlabel("step")
    ax_frac.set_ylabel("fraction of dense MACs")
    ax_frac.set_title("predicted zeros against the share")
    ax_frac.grid(alpha=0.3)
    ax_frac.legend()
    return [save_figure(fig, Path(out_dir) / filename)]


def plot_gate_values(gates: dict[tuple[str, str], Any], kinds: list[str], path: Path) -> Path:
    """``dim_search``: sorted |gate| per dimension kind, one curve per group (zeros at 0)."""
    fig, axes = new_figure(1, len(kinds), figsize=(4.0 * len(kinds), 3.6))
    axes = np.atleast_1d(axes)
    for ax, kind in zip(axes, kinds, strict=True):
        for (k, name), gate in gates.items():
            if k == kind:
                values = np.sort(np.abs(gate.detach().cpu().numpy()))
                ax.plot(np.linspace(0, 1, len(values)), values, label=name)
        ax.set_xlabel("fraction of dims (sorted)")
        ax.set_ylabel("|gate|")
        ax.set_title(f"{kind} gates")
        ax.grid(alpha=0.3)
        if sum(k == kind for k, _ in gates) <= 12:
            ax.legend(fontsize=6)
    return save_figure(fig, path)
