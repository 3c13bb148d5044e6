"""PENALTIES / build_penalty: every name builds, and user mistakes get one-line ValueErrors."""

from __future__ import annotations

import pytest
import torch

from slimkit.penalties import (
    MCP,
    PENALTIES,
    SCAD,
    GroupL21,
    Lp,
    Penalty,
    SparseGroup,
    TransformedL1,
    build_penalty,
)

NAMES = ["l1", "l0", "lp", "l1_2", "l2_3", "tl1", "group_l21", "l1_l21", "l0_l21", "mcp", "scad"]
KWARGS = {"lp": {"p": 0.3}}


def test_all_names_registered_and_build() -> None:
    assert sorted(NAMES) == PENALTIES.names()
    for name in NAMES:
        pen = build_penalty(name, **KWARGS.get(name, {}))
        assert isinstance(pen, Penalty)
        assert pen.name == name


def test_kwargs_reach_the_constructors() -> None:
    assert build_penalty("lp", p=0.3, n_iter=20) == Lp(0.3, n_iter=20)
    assert build_penalty("l1_2") == Lp(0.5)
    assert build_penalty("l2_3") == Lp(2 / 3)
    assert build_penalty("tl1", a=2.0) == TransformedL1(2.0)
    assert build_penalty("group_l21", group_weights=False) == GroupL21(False)
    assert build_penalty("l0_l21", elem_weight=0.1) == SparseGroup("l0", 0.1, 1.0, True)
    assert build_penalty("l1_l21", group_weight=2.0) == SparseGroup("l1", 1.0, 2.0, True)
    assert build_penalty("mcp", a=2.0, lam=0.1) == MCP(2.0, 0.1)
    assert build_penalty("scad", a=3.0, lam=0.1) == SCAD(3.0, 0.1)


def _one_line_error(match: str, name: str, **kwargs: object) -> None:
    with pytest.raises(ValueError, match=match) as err:
        build_penalty(name, **kwargs)
    assert "\n" not in str(err.value)


def test_user_errors() -> None:
    _one_line_error("unknown penalty 'tl'; did you mean 'tl1'", "tl")
    _one_line_error("unknown argument 'alpha'.*allowed: a", "tl1", alpha=1.0)
    _one_line_error("unknown argument 'q'.*allowed: none", "l1", q=1)
    _one_line_error("missing required argument 'p'", "lp")
    _one_line_error("p=1.5 is not allowed", "lp", p=1.5)
    _one_line_error("use 'l1' for p=1", "lp", p=1)
    _one_line_error("a=-1.0 is not allowed", "tl1", a=-1.0)
    _one_line_error("a=1.0 is not allowed.*> 1", "mcp", a=1.0)
    _one_line_error("a=2 is not allowed.*> 2", "scad", a=2)
    _one_line_error("lam=0 is not allowed", "scad", lam=0)
    _one_line_error("elem_weight=-0.1 is not allowed", "l1_l21", elem_weight=-0.1)
    _one_line_error("group_weights='yes' is not allowed", "group_l21", group_weights="yes")
    _one_line_error("n_iter=0 is not allowed", "lp", p=0.3, n_iter=0)
    with pytest.raises(ValueError, match="elementwise='l2' is not allowed; did you mean 'l1'"):
        SparseGroup("l2")


def test_penalties_are_immutable_values() -> None:
    pen = build_penalty("tl1", a=1.0)
    with pytest.raises(AttributeError):
        pen.a = 2.0  # type: ignore[misc]
    assert repr(pen) == "TransformedL1(a=1.0)"
    assert torch.equal(pen.prox(torch.ones(3), 0.1), TransformedL1(1.0).prox(torch.ones(3), 0.1))
