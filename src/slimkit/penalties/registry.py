"""Penalty registry: recipes name penalties by string (``build_penalty("tl1", a=1.0)``).

The names, references and capabilities (``kind``, ``subgradient``, ``prox``, ``args``,
``required``) are declared in :mod:`slimkit.builtins`; this module imports no torch, so a recipe's
penalty can be checked (:func:`check_penalty`) without building it. A new penalty is one module
plus one declaration line in the catalog.
"""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any

from slimkit.registry import PENALTIES, suggest

if TYPE_CHECKING:
    from slimkit.penalties.base import Penalty

__all__ = ["PENALTIES", "build_penalty", "check_penalty", "l0_l21", "l1_2", "l1_l21", "l2_3"]


def l1_2() -> Penalty:
    """``|x|^(1/2)`` with half thresholding."""
    from slimkit.penalties.lp import Lp

    return Lp(0.5)


def l2_3() -> Penalty:
    """``|x|^(2/3)`` with the Cao-Sun-Xu closed form."""
    from slimkit.penalties.lp import Lp

    return Lp(2.0 / 3.0)


def l1_l21(
    elem_weight: float = 1.0, group_weight: float = 1.0, group_weights: bool = True
) -> Penalty:
    """Sparse group lasso (l1 + group l2,1)."""
    from slimkit.penalties.sparse_group import SparseGroup

    return SparseGroup("l1", elem_weight, group_weight, group_weights)


def l0_l21(
    elem_weight: float = 1.0, group_weight: float = 1.0, group_weights: bool = True
) -> Penalty:
    """l0 + group l2,1 with the exact sort-and-scan prox."""
    from slimkit.penalties.sparse_group import SparseGroup

    return SparseGroup("l0", elem_weight, group_weight, group_weights)


def _check_args(name: str, allowed: list[str], required: list[str], kwargs: dict[str, Any]) -> None:
    for key in kwargs:
        if key not in allowed:
            names = ", ".join(allowed) or "none"
            raise ValueError(
                f"penalty '{name}': unknown argument '{key}'{suggest(key, allowed)} "
                f"(allowed: {names})"
            )
    missing = [k for k in required if k not in kwargs]
    if missing:
        raise ValueError(f"penalty '{name}': missing required argument '{missing[0]}'")


def check_penalty(
    name: str,
    kwargs: dict[str, Any] | None = None,
    *,
    elementwise: bool = False,
    subgradient: bool = False,
) -> None:
    """Check a penalty name and its argument names against the catalog, importing no torch.

    Argument values are checked when the penalty is built. A plugin penalty declared without
    ``args`` metadata is only checked for its name here.

    Args:
        name: the registered penalty name.
        kwargs: the constructor arguments a recipe gives.
        elementwise: require ``kind: elementwise`` (BN scales are a vector, not groups).
        subgradient: require a subgradient (``method: subgradient``).

    Raises:
        ValueError: one line naming the penalty and the problem.

    Example:
        >>> check_penalty("tl1", {"a": 2.0}, subgradient=True)
        >>> try:
        ...     check_penalty("l0", subgradient=True)
        ... except ValueError as e:
        ...     print(e)
        penalty 'l0' has no subgradient; use method: proximal
    """
    if name not in PENALTIES:
        PENALTIES.get(name)  # raises the one-line "unknown penalty ...; did you mean" error
    meta = PENALTIES.meta(name)
    if elementwise and meta.get("kind") == "group":
        raise ValueError(f"penalty '{name}' acts on groups; BN scales need an elementwise one")
    if subgradient and meta.get("subgradient") is False:
        raise ValueError(f"penalty '{name}' has no subgradient; use method: proximal")
    if "args" in meta:
        _check_args(name, list(meta["args"]), list(meta.get("required", ())), dict(kwargs or {}))


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
    required = [k for k, p in params.items() if p.default is inspect.Parameter.empty]
    _check_args(name, allowed, required, kwargs)
    return ctor(**kwargs)
