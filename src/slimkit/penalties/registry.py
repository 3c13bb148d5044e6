"""Penalty registry: recipes name penalties by string (``build_penalty("tl1", a=1.0)``).

A new penalty is one module plus one registration line here.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from slimkit.penalties.base import Penalty
from slimkit.penalties.group_l21 import GroupL21
from slimkit.penalties.l0 import L0
from slimkit.penalties.l1 import L1
from slimkit.penalties.lp import Lp
from slimkit.penalties.mcp import MCP
from slimkit.penalties.scad import SCAD
from slimkit.penalties.sparse_group import SparseGroup
from slimkit.penalties.transformed_l1 import TransformedL1
from slimkit.registry import Registry, suggest

PENALTIES: Registry[Callable[..., Penalty]] = Registry("penalty")


def _l1_2() -> Penalty:
    """``|x|^(1/2)`` with half thresholding."""
    return Lp(0.5)


def _l2_3() -> Penalty:
    """``|x|^(2/3)`` with the Cao-Sun-Xu closed form."""
    return Lp(2.0 / 3.0)


def _l1_l21(
    elem_weight: float = 1.0, group_weight: float = 1.0, group_weights: bool = True
) -> Penalty:
    """Sparse group lasso (l1 + group l2,1)."""
    return SparseGroup("l1", elem_weight, group_weight, group_weights)


def _l0_l21(
    elem_weight: float = 1.0, group_weight: float = 1.0, group_weights: bool = True
) -> Penalty:
    """l0 + group l2,1 with the exact sort-and-scan prox."""
    return SparseGroup("l0", elem_weight, group_weight, group_weights)


PENALTIES.register("l1")(L1)
PENALTIES.register("l0")(L0)
PENALTIES.register("lp")(Lp)
PENALTIES.register("l1_2")(_l1_2)
PENALTIES.register("l2_3")(_l2_3)
PENALTIES.register("tl1")(TransformedL1)
PENALTIES.register("group_l21")(GroupL21)
PENALTIES.register("l1_l21")(_l1_l21)
PENALTIES.register("l0_l21")(_l0_l21)
PENALTIES.register("mcp")(MCP)
PENALTIES.register("scad")(SCAD)


def build_penalty(name: str, **kwargs: Any) -> Penalty:
    """Build the penalty registered under ``name`` with constructor ``kwargs``.

    Names: ``l1``, ``l0``, ``lp`` (``p``, ``n_iter``), ``l1_2``, ``l2_3``, ``tl1`` (``a``),
    ``group_l21`` (``group_weights``), ``l1_l21`` and ``l0_l21`` (``elem_weight``,
    ``group_weight``, ``group_weights``), ``mcp`` and ``scad`` (``a``, ``lam``).

    Raises:
        ValueError: one line for an unknown name (with the nearest valid name), an unknown or
            missing argument, or a bad argument value.

    Example:
        >>> build_penalty("tl1", a=2.0)
        TransformedL1(a=2.0)
        >>> try:
        ...     build_penalty("tl", a=2.0)
        ... except ValueError as e:
        ...     print(e)
        unknown penalty 'tl'; did you mean 'tl1'? (allowed: group_l21, l0, l0_l21, l1, l1_2, l1_l21, l2_3, lp, mcp, scad, tl1)
    """
    ctor = PENALTIES.get(name)
    params = inspect.signature(ctor).parameters
    allowed = [k for k in params if k != "self"]
    for key in kwargs:
        if key not in params:
            names = ", ".join(allowed) or "none"
            raise ValueError(
                f"penalty '{name}': unknown argument '{key}'{suggest(key, allowed)} "
                f"(allowed: {names})"
            )
    missing = [
        k for k, p in params.items() if p.default is inspect.Parameter.empty and k not in kwargs
    ]
    if missing:
        raise ValueError(f"penalty '{name}': missing required argument '{missing[0]}'")
    return ctor(**kwargs)
