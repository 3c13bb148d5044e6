"""Figures of architecture search: α over the search, the derived cells, the solvable model.

Example:
    >>> import tempfile, pathlib, numpy as np
    >>> from slimkit.nas.genotype import NAMED_GENOTYPES
    >>> out = pathlib.Path(tempfile.mkdtemp())
    >>> plot_genotype(NAMED_GENOTYPES["darts_v2"], out / "cells.png").name
    'cells.png'
    >>> hist = [{"epoch": e, "normal": np.random.rand(14, 8), "reduce": np.random.rand(14, 8)}
    ...         for e in range(3)]
    >>> plot_alpha_history(hist, out / "alphas.png").name
    'alphas.png'
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from slimkit.nas.genotype import OPS, Genotype
from slimkit.report import new_figure, save_figure

__all__ = ["plot_alpha_history", "plot_genotype", "plot_solvable"]


def _softmax(a: np.ndarray) -> np.ndarray:
    e = np.exp(a - a.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def plot_alpha_history(history: Sequence[Mapping[str, Any]], path: str | Path) -> Path:
    """Top: the mean softmax weight of each operation over the search (normal, reduce);
    bottom: the final softmax(α) of every edge as a heatmap.

    ``history`` holds ``{"epoch", "normal", "reduce"}`` with raw α arrays (edges × ops).
    """
    fig, axes = new_figure(2, 2, figsize=(13.0, 8.0))
    epochs = [h["epoch"] for h in history]
    for col, cell in enumerate(("normal", "reduce")):
        weights = np.stack([_softmax(np.asarray(h[cell], dtype=float)) for h in history])
        mean = weights.mean(axis=1)  # (epochs, ops): average over the 14 edges
        ax = axes[0][col]
        for k, op in enumerate(OPS):
            ax.plot(epochs, mean[:, k], marker="o", markersize=3, label=op, color=f"C{k}")
        ax.set_title(f"{cell} cell: mean softmax(α) per operation")
        ax.set_xlabel("search epoch")
        ax.set_ylabel("weight")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, ncol=2)
        heat = axes[1][col]
        image = heat.imshow(weights[-1], aspect="auto", cmap="viridis")
        heat.set_xticks(range(len(OPS)), OPS, rotation=45, ha="right", fontsize=7)
        heat.set_ylabel("edge")
        heat.set_title(f"{cell} cell: final softmax(α)")
        fig.colorbar(image, ax=heat)
    return save_figure(fig, path)


def _draw_cell(ax: Any, nodes: Sequence[Any], concat: Sequence[int], title: str) -> None:
    """Inputs on the left, intermediate nodes on a descending diagonal, the output on the right;
    each edge is an arc labelled with its operation at the arc's midpoint."""
    steps = len(nodes)
    pos: dict[int | str, tuple[float, float]] = {0: (0.0, 0.8), 1: (0.0, 0.2)}
    for k in range(steps):
        pos[k + 2] = (0.3 + 0.5 * k / max(steps - 1, 1), 0.9 - 0.8 * k / max(steps - 1, 1))
    pos["out"] = (1.0, 0.5)
    labels = {0: "c_{k-2}", 1: "c_{k-1}", "out": "c_{k}", **{k + 2: str(k) for k in range(steps)}}
    colors = {0: "#9ecae1", 1: "#9ecae1", "out": "#fdd0a2"}
    for key, (x, y) in pos.items():
        ax.text(x, y, labels[key], ha="center", va="center", fontsize=9, zorder=3,
                bbox={"boxstyle": "round", "fc": colors.get(key, "#c7e9c0"), "ec": "#555555"})  # fmt: skip
    for k, node in enumerate(nodes):
        for j, (op, source) in enumerate(node):
            (x0, y0), (x1, y1) = pos[source], pos[k + 2]
            bend = 0.25 if j else -0.25
            ax.annotate("", xy=(x1, y1), xytext=(x0, y0),
                        arrowprops={"arrowstyle": "->", "color": f"C{j}", "shrinkA": 12,
                                    "shrinkB": 12, "connectionstyle": f"arc3,rad={bend}"})  # fmt: skip
            # a point of matplotlib's arc3 quadratic Bézier (control point M + rad·(dy, -dx)),
            # at t = 0.65: nearer the target, so labels of edges from one source do not collide
            cx = (x0 + x1) / 2 + bend * (y1 - y0)
            cy = (y0 + y1) / 2 - bend * (x1 - x0)
            t = 0.65
            mx = (1 - t) ** 2 * x0 + 2 * t * (1 - t) * cx + t**2 * x1
            my = (1 - t) ** 2 * y0 + 2 * t * (1 - t) * cy + t**2 * y1
            ax.text(mx, my, op, fontsize=7, ha="center", va="center", color=f"C{j}", zorder=2,
                    bbox={"fc": "white", "ec": "none", "alpha": 0.85, "pad": 0.3})  # fmt: skip
    for k in concat:
        (x0, y0), (x1, y1) = pos[k], pos["out"]
        ax.annotate("", xy=(x1, y1), xytext=(x0, y0),
                    arrowprops={"arrowstyle": "->", "color": "#bbbbbb", "linestyle": "--",
                                "shrinkA": 12, "shrinkB": 12})  # fmt: skip
    ax.set_xlim(-0.12, 1.12)
    ax.set_ylim(0.0, 1.0)
    ax.axis("off")
    ax.set_title(title)


def plot_genotype(genotype: Genotype, path: str | Path, title: str = "") -> Path:
    """Diagrams of the normal and the reduction cell of ``genotype``."""
    fig, (left, right) = new_figure(1, 2, figsize=(14.0, 6.5))
    prefix = f"{title}: " if title else ""
    _draw_cell(left, genotype.normal, genotype.normal_concat, f"{prefix}normal cell")
    _draw_cell(right, genotype.reduce, genotype.reduce_concat, f"{prefix}reduction cell")
    return save_figure(fig, path)


def plot_solvable(
    trajectories: Mapping[str, np.ndarray],
    fixed_points: Mapping[str, np.ndarray],
    optimum: np.ndarray,
    path: str | Path,
) -> Path:
    """α (first coordinate and distance to the bilevel optimum) over iterations, per method,
    with each method's closed-form fixed point dashed."""
    fig, (ax, dist) = new_figure(1, 2, figsize=(13.0, 4.5))
    for k, (name, traj) in enumerate(trajectories.items()):
        it = np.arange(len(traj))
        ax.plot(it, traj[:, 0], color=f"C{k}", label=name)
        ax.axhline(float(fixed_points[name][0]), color=f"C{k}", linestyle="--", linewidth=0.8)
        dist.semilogx(it + 1, np.linalg.norm(traj - optimum, axis=1), color=f"C{k}", label=name)
    ax.axhline(float(optimum[0]), color="black", linewidth=1.2, label="bilevel optimum α*")
    ax.set_xlabel("iteration")
    ax.set_ylabel("α[0]")
    ax.set_title("α over iterations (dashed: closed-form fixed point)")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    dist.set_xlabel("iteration")
    dist.set_ylabel("‖α − α*‖")
    dist.set_title("distance to the bilevel optimum")
    dist.legend(fontsize=8)
    dist.grid(alpha=0.3)
    return save_figure(fig, path)
