"""Turn metrics.jsonl records into plottable series on one concatenated epoch axis."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from numbers import Real
from typing import Any

__all__ = ["EPOCH_BOOKKEEPING", "Curves", "StageSpan", "build_curves"]

EPOCH_BOOKKEEPING = frozenset({"event", "stage", "stage_kind", "epoch", "step"})
"""Keys of an epoch line that locate it rather than measure something."""


@dataclass(frozen=True)
class StageSpan:
    """Where one stage sits on the concatenated x axis (in epochs).

    Attributes:
        index: the stage index from metrics.jsonl.
        kind: the stage kind (e.g. ``"train"``), ``""`` when never logged.
        start: x of the stage's start; its epoch ``e`` (1-based) ends at ``start + e``.
        length: number of epochs the stage spans (including a partial last epoch).
    """

    index: int
    kind: str
    start: float
    length: float


@dataclass
class Curves:
    """Series ready to plot; every x is in epochs, stages placed one after another.

    Attributes:
        stages: one span per stage, in stage order.
        step_x: x of each logged step (the fraction of its epoch done).
        step_loss: loss of each logged step.
        step_stage: stage index of each logged step.
        epoch_x: x of each epoch line (the end of that epoch).
        epoch_stage: stage index of each epoch line.
        epoch: numeric field name -> values aligned with ``epoch_x`` (NaN where absent).
    """

    stages: list[StageSpan] = field(default_factory=list)
    step_x: list[float] = field(default_factory=list)
    step_loss: list[float] = field(default_factory=list)
    step_stage: list[int] = field(default_factory=list)
    epoch_x: list[float] = field(default_factory=list)
    epoch_stage: list[int] = field(default_factory=list)
    epoch: dict[str, list[float]] = field(default_factory=dict)

    def has(self, name: str) -> bool:
        """Whether epoch field ``name`` has at least one finite value."""
        return any(math.isfinite(v) for v in self.epoch.get(name, ()))


def _num(v: Any) -> float | None:
    """A float for real numbers (NaN kept, bools refused), else None."""
    if isinstance(v, Real) and not isinstance(v, bool):
        return float(v)
    return None


def _int(v: Any) -> int | None:
    f = _num(v)
    return int(f) if f is not None and math.isfinite(f) and f == int(f) else None


def _fractions(steps: list[float | None], lo: float | None, hi: float | None) -> list[float]:
    """Position of each logged step inside its epoch, in [0, 1].

    Tries, in order: steps counted across epochs (``lo < s <= hi``), steps counted within
    the epoch (``0 <= s <= hi``), and finally evenly spaced by logging order.
    """
    known = [s for s in steps if s is not None]
    if len(known) == len(steps) and hi is not None:
        if lo is not None and hi > lo and all(lo <= s <= hi for s in known):
            return [(s - lo) / (hi - lo) for s in known]
        if hi > 0 and all(0 <= s <= hi for s in known):
            return [s / hi for s in known]
    n = len(steps)
    return [(i + 1) / n for i in range(n)]


def build_curves(metrics: Iterable[Mapping[str, Any]]) -> Curves:
    """Place step and epoch records of several stages on one epoch axis.

    Records from a resumed run that repeat a (stage, epoch) epoch line or a
    (stage, epoch, step) step line are collapsed: the later line wins. Stage ``k`` starts
    where stage ``k - 1`` ends, so epochs that restart per stage never overlap.

    Args:
        metrics: records as returned by `read_metrics`.

    Returns:
        The series to plot.

    Example:
        >>> c = build_curves([
        ...     {"event": "epoch", "stage": 0, "epoch": 1, "step": 10, "test_top1": 0.5},
        ...     {"event": "epoch", "stage": 1, "epoch": 1, "step": 10, "test_top1": 0.6},
        ...     {"event": "epoch", "stage": 1, "epoch": 1, "step": 10, "test_top1": 0.7},
        ... ])
        >>> c.epoch_x, c.epoch["test_top1"]
        ([1.0, 2.0], [0.5, 0.7])
    """
    epochs: dict[tuple[int, int], Mapping[str, Any]] = {}
    steps: dict[tuple[int, int, Any], Mapping[str, Any]] = {}
    kinds: dict[int, str] = {}
    for order, rec in enumerate(metrics):
        event = rec.get("event")
        stage = _int(rec.get("stage", 0))
        epoch = _int(rec.get("epoch"))
        if event not in ("step", "epoch") or stage is None or epoch is None:
            continue
        if isinstance(rec.get("stage_kind"), str):
            kinds[stage] = rec["stage_kind"]
        if event == "epoch":
            epochs.pop((stage, epoch), None)  # re-insert so dict order follows the later line
            epochs[(stage, epoch)] = rec
        else:
            step = _num(rec.get("step"))
            key = (stage, epoch, step if step is not None else ("#", order))
            steps.pop(key, None)
            steps[key] = rec

    curves = Curves()
    stage_ids = sorted({s for s, _ in epochs} | {s for s, _, _ in steps})
    seen_epochs = {s: [e for (t, e) in epochs if t == s] for s in stage_ids}
    for s, e, _ in steps:
        seen_epochs[s].append(e)
    # 1-based epochs; a stage that logs epoch 0 is shifted so its first epoch ends at +1.
    first = {s: min(1, min(es)) for s, es in seen_epochs.items()}
    start = 0.0
    for s in stage_ids:
        length = float(max(seen_epochs[s]) - first[s] + 1)
        curves.stages.append(StageSpan(s, kinds.get(s, ""), start, length))
        start += length
    span = {sp.index: sp for sp in curves.stages}

    def x_end(stage: int, epoch: int) -> float:
        return span[stage].start + (epoch - first[stage] + 1)

    # Epoch lines, ordered along x.
    names: list[str] = []
    for rec in epochs.values():
        for k, v in rec.items():
            if k not in EPOCH_BOOKKEEPING and _num(v) is not None and k not in names:
                names.append(k)
    curves.epoch = {k: [] for k in names}
    for stage, epoch in sorted(epochs):
        rec = epochs[(stage, epoch)]
        curves.epoch_x.append(x_end(stage, epoch))
        curves.epoch_stage.append(stage)
        for k in names:
            v = _num(rec.get(k))
            curves.epoch[k].append(math.nan if v is None else v)

    # Step lines, grouped by (stage, epoch) and placed inside their epoch.
    end_step = {key: _num(rec.get("step")) for key, rec in epochs.items()}
    last_end: dict[int, float | None] = {}
    for stage in stage_ids:
        ends = [end_step[(stage, e)] for e in sorted(seen_epochs[stage]) if (stage, e) in epochs]
        last_end[stage] = ends[-1] if ends else None
    groups: dict[tuple[int, int], list[Mapping[str, Any]]] = {}
    for key in sorted(steps, key=lambda k: (k[0], k[1], isinstance(k[2], tuple), k[2])):
        groups.setdefault((key[0], key[1]), []).append(steps[key])
    for (stage, epoch), recs in sorted(groups.items()):
        values = [_num(r.get("step")) for r in recs]
        hi = end_step.get((stage, epoch))
        if epoch == first[stage]:
            lo: float | None = 0.0
            prev = stage_ids.index(stage) - 1
            prev_end = last_end[stage_ids[prev]] if prev >= 0 else None
            known = [v for v in values if v is not None]
            if (
                prev_end is not None
                and hi is not None
                and known
                and prev_end <= min(known)
                and prev_end < hi
            ):
                lo = prev_end  # steps are counted across stages
        else:
            lo = end_step.get((stage, epoch - 1))
            before = end_step.get((stage, epoch - 2), 0.0 if epoch - 1 == first[stage] else None)
            if hi is None and lo is not None and before is not None and lo > before:
                hi = lo + (lo - before)  # killed mid-epoch: assume the previous epoch's length
        base = x_end(stage, epoch) - 1.0
        for rec, frac in zip(recs, _fractions(values, lo, hi), strict=True):
            loss = _num(rec.get("loss"))
            if loss is not None:
                curves.step_x.append(base + frac)
                curves.step_loss.append(loss)
                curves.step_stage.append(stage)
    return curves
