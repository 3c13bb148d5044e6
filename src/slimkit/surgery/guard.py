"""How many channels a group keeps: the per-layer guard and rounding to hardware-friendly widths.

Shared by the BN-scale rules (:mod:`slimkit.surgery.select`) and the zero-filter rule
(:mod:`slimkit.surgery.filters`).
"""

from __future__ import annotations

import math

__all__ = ["allowed_removal", "check_guard", "keep_count", "removal_counts"]


def check_guard(min_channels: object, min_fraction: object, round_to: object) -> None:
    """One-line ``ValueError`` for an invalid guard setting."""
    if not isinstance(min_channels, int) or isinstance(min_channels, bool) or min_channels < 1:
        raise ValueError(f"min_channels={min_channels!r} is invalid; use an integer >= 1")
    if not 0.0 <= float(min_fraction) <= 1.0:  # type: ignore[arg-type]
        raise ValueError(f"min_fraction={min_fraction!r} is invalid; use 0 <= min_fraction <= 1")
    if not isinstance(round_to, int) or isinstance(round_to, bool) or round_to < 1:
        raise ValueError(f"round_to={round_to!r} is invalid; use an integer >= 1 (1: no rounding)")


def keep_count(size: int, min_channels: int, min_fraction: float, round_to: int = 1) -> int:
    """Channels a group of ``size`` always keeps: ``max(min_channels, ceil(min_fraction * size))``
    rounded up to a multiple of ``round_to``, at most ``size``.

    Example:
        >>> keep_count(64, 1, 0.0), keep_count(64, 1, 0.3), keep_count(64, 1, 0.3, round_to=16)
        (1, 20, 32)
    """
    # round() first so that e.g. 0.3 * 10 = 3.0000000000000004 keeps 3, not 4.
    keep = max(min_channels, math.ceil(round(min_fraction * size, 9)))
    return min(size, math.ceil(keep / round_to) * round_to)


def removal_counts(size: int, keep: int, round_to: int) -> list[int]:
    """The numbers of channels a group of ``size`` may lose, ascending from 0: those that leave
    the whole group or a multiple of ``round_to`` channels, never fewer than ``keep``.

    Example:
        >>> removal_counts(64, 16, 16), removal_counts(10, 1, 8), removal_counts(4, 2, 1)
        ([0, 16, 32, 48], [0, 2], [0, 1, 2])
    """
    kept = range((size - 1) // round_to * round_to, keep - 1, -round_to)
    return [0, *(size - k for k in kept if k > 0)]


def allowed_removal(size: int, keep: int, round_to: int, available: int) -> int:
    """The most of ``available`` removable channels a group of ``size`` may lose (a count from
    :func:`removal_counts`).

    Example:
        >>> allowed_removal(64, 16, 16, 40), allowed_removal(16, 1, 1, 5)
        (32, 5)
    """
    return max(c for c in removal_counts(size, keep, round_to) if c <= available)
