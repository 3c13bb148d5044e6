"""One budget search for every compression stage: reach the target or say what is reachable.

A :class:`Budget` is a limit on one measured quantity of a model: MACs, parameters, or ONNX
Runtime latency at one batch size (``ort_bs1``, ``ort_bs32``...), with the dense model's value
as the reference that fractions are quoted against. Two searches share one contract:

- :func:`fewest_steps`: a discrete knob ``k = 0..n`` (e.g. how many ranked channel blocks the
  ``prune`` stage removes) whose cost falls as ``k`` grows; the smallest ``k`` that fits.
- :func:`largest_level`: a continuous knob ``x`` in ``[lo, hi]`` (e.g. the energy the
  ``factorize`` stage keeps per layer) whose cost grows with ``x``; the largest ``x`` that fits.

Both either return a setting whose cost is within the budget or raise :class:`BudgetError`, one
line naming the closest reachable value (as a fraction of the reference) and the guard that
limits it. No search silently returns a plan that misses its budget.

Latency costs export each candidate to ONNX and time it in ONNX Runtime; the timings are cached
by architecture (:func:`architecture_key`: every parameter's and buffer's name and shape), so
candidates that differ only in weights are timed once. Timing noise makes latency only nearly
monotone in the knob; the searches assume monotone costs and stay correct where it holds.

Example:
    >>> budget = Budget("macs", limit=50.0, reference=100.0)
    >>> fewest_steps(lambda k: 100.0 - 10 * k, 10, budget)
    5
    >>> largest_level(lambda x: 100.0 * x, budget, lo=0.0, hi=1.0) <= 0.5
    True
    >>> try:
    ...     fewest_steps(lambda k: 100.0 - k, 10, budget, hint="min_channels=4")
    ... except BudgetError as e:
    ...     print(e)
    target macs=0.500 is unreachable: the closest reachable is 0.900 of the dense value (min_channels=4)
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import torch
from torch import nn

__all__ = [
    "Budget",
    "BudgetError",
    "LatencyCache",
    "architecture_key",
    "fewest_steps",
    "largest_level",
]

Quantity = Literal["macs", "params", "latency"]


class BudgetError(ValueError):
    """A budget that no setting of the search can meet (one line, with the closest value)."""


def architecture_key(module: nn.Module) -> tuple:
    """What latency depends on: every parameter's and buffer's name, shape and dtype.

    Example:
        >>> architecture_key(nn.Linear(3, 2))[:1]
        (('bias', (2,), 'torch.float32'),)
    """
    tensors = list(module.named_parameters()) + list(module.named_buffers())
    return tuple(sorted((n, tuple(t.shape), str(t.dtype)) for n, t in tensors))


@dataclass
class LatencyCache:
    """ONNX Runtime latency (ms) of candidate models, measured once per architecture.

    With ``reference_onnx`` and ``reference_ms`` set (a latency target's dense model and its
    timing when the plan was made), each candidate is timed in alternating blocks beside the
    dense file (:func:`slimkit.measure.latency.paired_ort_latency`) and reported as
    ``reference_ms x candidate / dense``: its latency at the machine speed of the plan, so a
    machine that slows down or speeds up during the run does not move the budget's yardstick.

    Attributes:
        batch_size: the batch the latency is measured at.
        threads: intra-op threads of the ORT session.
        repeats: timed runs (median) after ``warmup`` untimed runs (unpaired timing).
        reference_onnx: the dense model's ONNX file (``None``: candidates are timed alone).
        reference_ms: the dense model's latency the budget's limit was computed from.
        paired_rounds: blocks per file of a paired timing (4 timed runs each).
    """

    batch_size: int = 1
    threads: int = 2
    repeats: int = 15
    warmup: int = 3
    reference_onnx: str | None = None
    reference_ms: float | None = None
    paired_rounds: int = 4
    timings: dict[tuple, float] = field(default_factory=dict)

    def __call__(self, module: nn.Module, input_size: tuple[int, int, int]) -> float:
        """Median ORT milliseconds of ``module`` at ``batch_size`` (cached)."""
        key = architecture_key(module)
        if key not in self.timings:
            trial = copy.deepcopy(module).cpu().to(memory_format=torch.contiguous_format)
            if self.reference_onnx is not None and self.reference_ms is not None:
                self.timings[key] = self._paired(trial, input_size)
            else:
                from slimkit.measure.latency import measure_latency

                measured = measure_latency(
                    trial,
                    input_size,
                    batch_sizes=(self.batch_size,),
                    threads=self.threads,
                    warmup=self.warmup,
                    repeats=self.repeats,
                    runtimes=("ort",),
                )
                self.timings[key] = measured[f"ort_bs{self.batch_size}"]
        return self.timings[key]

    def _paired(self, trial: nn.Module, input_size: tuple[int, int, int]) -> float:
        import tempfile
        from pathlib import Path

        from slimkit.measure.latency import paired_ort_latency
        from slimkit.measure.onnx_export import export_onnx

        assert self.reference_onnx is not None and self.reference_ms is not None
        with tempfile.TemporaryDirectory(prefix="slimkit-candidate-") as tmp:
            path = Path(tmp) / "candidate.onnx"
            export_onnx(trial, path, input_size, dynamic_batch=True)
            dense_ms, candidate_ms = paired_ort_latency(
                [self.reference_onnx, path],
                input_size,
                batch_size=self.batch_size,
                threads=self.threads,
                block=4,
                rounds=self.paired_rounds,
            )
        return self.reference_ms * candidate_ms / dense_ms


@dataclass
class Budget:
    """A limit on one quantity of a model.

    Attributes:
        quantity: ``macs``, ``params`` or ``latency`` (milliseconds, ORT).
        limit: the most the model may have (MACs, parameters or ms).
        reference: the dense model's value (messages quote fractions of it).
        latency: measures a candidate's latency (``quantity="latency"`` only).
    """

    quantity: Quantity
    limit: float
    reference: float
    latency: LatencyCache | None = None

    def __post_init__(self) -> None:
        if self.quantity not in ("macs", "params", "latency"):
            raise ValueError(f"quantity: expected macs, params or latency, got {self.quantity!r}")
        if not self.limit > 0 or not self.reference > 0:
            raise ValueError(
                f"budget: limit and reference must be positive, got {self.limit}, {self.reference}"
            )
        if self.quantity == "latency" and self.latency is None:
            self.latency = LatencyCache()

    @property
    def fraction(self) -> float:
        """The limit as a fraction of the reference."""
        return self.limit / self.reference

    @property
    def label(self) -> str:
        """``macs``, ``params`` or ``latency ort_bs<B>``."""
        if self.quantity == "latency":
            assert self.latency is not None
            return f"latency ort_bs{self.latency.batch_size}"
        return self.quantity

    def cost(self, module: nn.Module, input_size: tuple[int, int, int]) -> float:
        """The quantity measured on ``module``."""
        if self.quantity == "macs":
            from slimkit.measure.macs import count_macs

            return float(count_macs(module, input_size))
        if self.quantity == "params":
            from slimkit.measure.params import count_params

            return float(count_params(module))
        assert self.latency is not None
        return self.latency(module, input_size)

    def fits(self, value: float) -> bool:
        """Whether ``value`` is within the limit (relative slack 1e-9 for float sums)."""
        return value <= self.limit * (1 + 1e-9)

    def unreachable(self, closest: float, hint: str = "") -> BudgetError:
        """The one-line error for a budget whose closest reachable value is ``closest``."""
        reach = closest / self.reference
        guard = f" ({hint})" if hint else ""
        return BudgetError(
            f"target {self.label}={self.fraction:.3f} is unreachable: the closest reachable is "
            f"{reach:.3f} of the dense value{guard}"
        )


def fewest_steps(
    cost: Callable[[int], float],
    steps: int,
    budget: Budget,
    *,
    start: int = 0,
    hint: str = "",
) -> int:
    """The smallest ``k`` in ``[start, steps]`` with ``cost(k)`` within the budget.

    ``cost`` must not increase with ``k``. ``start`` is a lower bound known to be safe (an
    estimate that never overshoots); the search checks ``start`` first, then gallops (``start +
    1, + 2, + 4, ...``) and bisects the last gap, so a close estimate costs a few evaluations.

    Raises:
        BudgetError: ``cost(steps)`` is over the budget (names its fraction and ``hint``).

    Example:
        >>> calls = []
        >>> def cost(k):
        ...     calls.append(k)
        ...     return 100.0 - k
        >>> fewest_steps(cost, 1000, Budget("macs", limit=50.0, reference=100.0), start=48), calls
        (50, [48, 49, 51, 50])
    """
    start = max(0, min(start, steps))
    if budget.fits(cost(start)):
        return start
    lo, jump = start, 1  # cost(lo) over the budget
    while True:
        hi = min(lo + jump, steps)
        value = cost(hi)
        if budget.fits(value):
            break
        if hi == steps:
            raise budget.unreachable(value, hint)
        lo, jump = hi, jump * 2
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if budget.fits(cost(mid)) else (mid, hi)
    return hi


def largest_level(
    cost: Callable[[float], float],
    budget: Budget,
    *,
    lo: float,
    hi: float,
    iters: int = 30,
    hint: str = "",
) -> float:
    """The largest ``x`` in ``[lo, hi]`` (to ``(hi - lo) / 2**iters``) with ``cost(x)`` within
    the budget. ``cost`` must not decrease with ``x``.

    Raises:
        BudgetError: ``cost(lo)`` is over the budget (names its fraction and ``hint``).
    """
    if budget.fits(cost(hi)):
        return hi
    least = cost(lo)
    if not budget.fits(least):
        raise budget.unreachable(least, hint)
    for _ in range(iters):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if budget.fits(cost(mid)) else (lo, mid)
    return lo
