"""Standard PNG plots of a run, and helpers for methods that add their own.

Figures are built with `matplotlib.figure.Figure` on an Agg canvas, never through pyplot's
global state, so drawing a report neither needs a display nor changes the backend of a
notebook that imports slimkit.
"""

from __future__ import annotations

import contextlib
import math
import sys
import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from slimkit.report.curves import Curves, build_curves

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["STANDARD_PLOTS", "new_figure", "plot_training_curves", "save_figure"]

STANDARD_PLOTS = ("loss.png", "accuracy.png", "epoch_metrics.png")
"""File names `plot_training_curves` may write (the last only when extra fields exist).
Reserved: `write_report` removes those it did not draw this time, so a re-render never
leaves a stale standard plot behind."""

# Epoch fields that are not drawn in epoch_metrics.png: the loss/accuracy curves and
# bookkeeping (learning rate, timing, throughput).
_CORE_FIELDS = frozenset(
    {"train_loss", "test_loss", "train_top1", "test_top1", "lr", "seconds", "images_per_s"}
)
_LOG_SCALE_RATIO = 20.0  # loss plots switch to a log y axis beyond this max/min ratio
_MAX_EXTRAS = 6


def new_figure(
    nrows: int = 1, ncols: int = 1, *, figsize: tuple[float, float] = (7.0, 4.0)
) -> tuple[Figure, Any]:
    """A figure on an Agg canvas and its axes (pyplot is not involved).

    Args:
        nrows: subplot rows.
        ncols: subplot columns.
        figsize: inches (width, height).

    Returns:
        ``(fig, axes)``; ``axes`` is one Axes for a 1x1 grid, else an array of Axes.

    Example:
        >>> fig, ax = new_figure()
        >>> _ = ax.plot([0, 1], [1, 0])
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize)
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrows, ncols, squeeze=True)
    return fig, axes


def save_figure(fig: Figure, path: str | Path) -> Path:
    """Save a figure as the reports do (tight layout, 120 dpi) and close it.

    Works for figures made by `new_figure` and by pyplot alike; a pyplot figure is closed
    so that long runs do not accumulate open figures.

    Args:
        fig: the figure.
        path: destination (``.png``); parent folders are created.

    Returns:
        The path written.

    Example:
        >>> import tempfile, pathlib
        >>> fig, ax = new_figure()
        >>> _ = ax.bar(["a", "b"], [3, 1])
        >>> p = save_figure(fig, pathlib.Path(tempfile.mkdtemp()) / "bars.png")
        >>> p.read_bytes()[:4] == b"\\x89PNG"
        True
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # A layout that cannot be tightened (too many panels, huge labels) is saved as it is.
    with warnings.catch_warnings(), contextlib.suppress(ValueError, RuntimeError):
        warnings.simplefilter("ignore", UserWarning)
        fig.tight_layout()
    fig.savefig(path, dpi=120)
    if "matplotlib.pyplot" in sys.modules:
        sys.modules["matplotlib.pyplot"].close(fig)
    return path


def _mark_stages(ax: Axes, curves: Curves) -> None:
    """Dashed lines between stages and a label at the top of each stage."""
    if len(curves.stages) < 2 and not any(sp.kind for sp in curves.stages):
        return
    trans = ax.get_xaxis_transform()  # x in data units, y in axes fraction
    for sp in curves.stages:
        if sp.start > 0:
            ax.axvline(sp.start, color="0.5", linestyle="--", linewidth=0.9)
        label = f"stage {sp.index}" + (f": {sp.kind}" if sp.kind else "")
        ax.text(
            sp.start + 0.02 * sp.length,
            0.98,
            label,
            transform=trans,
            ha="left",
            va="top",
            fontsize=8,
            color="0.35",
        )


def _by_stage(
    ax: Axes, x: list[float], y: list[float], stages: list[int], label: str, **style: Any
) -> None:
    """Plot one series as a line per stage (no line jumps across a stage boundary)."""
    for n, stage in enumerate(dict.fromkeys(stages)):
        idx = [i for i, s in enumerate(stages) if s == stage]
        ax.plot([x[i] for i in idx], [y[i] for i in idx], label=label if n == 0 else None,
                **style)  # fmt: skip


def _finalize(ax: Axes, curves: Curves, ylabel: str) -> None:
    _mark_stages(ax, curves)
    total = sum(sp.length for sp in curves.stages)
    ax.set_xlim(0, max(total, 1.0) * 1.02)  # room for the last marker
    ax.set_xlabel("epoch (stages concatenated)" if len(curves.stages) > 1 else "epoch")
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="best", fontsize=8)


def _plot_loss(curves: Curves, path: Path) -> Path | None:
    if not (curves.step_loss or curves.has("train_loss") or curves.has("test_loss")):
        return None
    fig, ax = new_figure()
    if curves.step_loss:
        ax.plot(
            curves.step_x,
            curves.step_loss,
            color="tab:blue",
            alpha=0.35,
            linewidth=0.8,
            label="step loss",
        )
    for name, color, marker in (("train_loss", "tab:blue", "o"), ("test_loss", "tab:orange", "s")):
        if curves.has(name):
            ax.plot(
                curves.epoch_x,
                curves.epoch[name],
                color=color,
                marker=marker,
                markersize=4,
                label=name.replace("_", " ") + " (epoch)",
            )
    drawn = (
        curves.step_loss + curves.epoch.get("train_loss", []) + curves.epoch.get("test_loss", [])
    )
    values = [v for v in drawn if math.isfinite(v)]
    if values and min(values) > 0 and max(values) / min(values) > _LOG_SCALE_RATIO:
        ax.set_yscale("log")  # e.g. a first-epoch test loss far above the rest
    ax.set_title("Loss")
    _finalize(ax, curves, "loss")
    return save_figure(fig, path)


def _as_percent(values: list[float]) -> list[float]:
    finite = [v for v in values if math.isfinite(v)]
    scale = 100.0 if finite and max(finite) <= 1.0 else 1.0  # already percent otherwise
    return [v * scale for v in values]


def _plot_accuracy(curves: Curves, path: Path) -> Path | None:
    if not (curves.has("train_top1") or curves.has("test_top1")):
        return None
    fig, ax = new_figure()
    for name, color, marker in (("train_top1", "tab:blue", "o"), ("test_top1", "tab:orange", "s")):
        if curves.has(name):
            ax.plot(
                curves.epoch_x,
                _as_percent(curves.epoch[name]),
                color=color,
                marker=marker,
                markersize=4,
                label=name.replace("_top1", " top-1"),
            )
    ax.set_title("Top-1 accuracy")
    _finalize(ax, curves, "top-1 (%)")
    return save_figure(fig, path)


def _plot_extras(curves: Curves, path: Path) -> Path | None:
    names = [
        n
        for n in curves.epoch
        if n not in _CORE_FIELDS and not n.endswith(("_per_s", "_seconds")) and curves.has(n)
    ][:_MAX_EXTRAS]
    if not names:
        return None
    fig, axes = new_figure(len(names), 1, figsize=(7.0, 2.2 * len(names) + 0.6))
    for ax, name in zip([axes] if len(names) == 1 else list(axes), names, strict=True):
        _by_stage(
            ax,
            curves.epoch_x,
            curves.epoch[name],
            curves.epoch_stage,
            name,
            marker="o",
            markersize=3,
            color="tab:green",
        )
        ax.set_title(name, fontsize=10)
        _finalize(ax, curves, name)
    return save_figure(fig, path)


def plot_training_curves(metrics: Iterable[Mapping[str, Any]], out_dir: str | Path) -> list[Path]:
    """Draw the standard curves of a run from its metrics records.

    Writes ``loss.png`` (logged step losses plus per-epoch train and test loss) and
    ``accuracy.png`` (per-epoch train and test top-1, in %), and ``epoch_metrics.png`` when
    epoch lines carry extra numeric method fields (e.g. ``sparsity``; at most six, one
    panel each). Stages are concatenated along the x axis (in epochs) with dashed lines at
    stage boundaries; a resumed run's repeated lines count once, the later one winning.
    A plot with nothing to show is not written.

    Args:
        metrics: records as returned by `read_metrics`.
        out_dir: folder to write into (created if needed).

    Returns:
        Paths written, in the order above; empty when there is nothing to plot.

    Example:
        >>> import tempfile
        >>> recs = [{"event": "epoch", "stage": 0, "stage_kind": "train", "epoch": e,
        ...          "step": 10 * e, "train_loss": 1 / e, "test_top1": 0.5 + 0.1 * e}
        ...         for e in (1, 2, 3)]
        >>> [p.name for p in plot_training_curves(recs, tempfile.mkdtemp())]
        ['loss.png', 'accuracy.png']
    """
    curves = build_curves(metrics)
    if not curves.stages:
        return []
    out = Path(out_dir)
    loss, acc, extras = (out / name for name in STANDARD_PLOTS)
    written = [_plot_loss(curves, loss), _plot_accuracy(curves, acc), _plot_extras(curves, extras)]
    return [p for p in written if p is not None]
