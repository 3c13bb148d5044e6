"""Elementwise penalty cases: the penalty object and ``R`` as a plain float64 formula."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from slimkit.penalties import L0, L1, MCP, SCAD, Lp, Penalty, TransformedL1


def mcp_r(a: float, lam: float) -> Callable[[Tensor], Tensor]:
    """MCP formula (digest §2.10)."""

    def r(x: Tensor) -> Tensor:
        t = x.abs()
        return torch.where(
            t <= a * lam, lam * t - t**2 / (2 * a), torch.full_like(t, a * lam**2 / 2)
        )

    return r


def scad_r(a: float, lam: float) -> Callable[[Tensor], Tensor]:
    """SCAD formula (Fan & Li 2001)."""

    def r(x: Tensor) -> Tensor:
        t = x.abs()
        mid = (2 * a * lam * t - t**2 - lam**2) / (2 * (a - 1))
        hi = torch.full_like(t, (a + 1) * lam**2 / 2)
        return torch.where(t <= lam, lam * t, torch.where(t <= a * lam, mid, hi))

    return r


@dataclass
class Case:
    """A penalty under test and its defining formula."""

    id: str
    penalty: Penalty
    r: Callable[[Tensor], Tensor]


def _tl1(a: float) -> Case:
    return Case(f"tl1-a{a}", TransformedL1(a), lambda x: (a + 1) * x.abs() / (a + x.abs()))


def _lp(p: float, tag: str) -> Case:
    return Case(tag, Lp(p), lambda x: x.abs() ** p)


CASES: list[Case] = [
    Case("l1", L1(), lambda x: x.abs()),
    Case("l0", L0(), lambda x: (x != 0).double()),
    _lp(0.5, "l1_2"),
    _lp(2.0 / 3.0, "l2_3"),
    _lp(0.3, "lp0.3"),
    _lp(0.75, "lp0.75"),
    _tl1(0.1),
    _tl1(0.5),
    _tl1(1.0),
    _tl1(3.0),
    Case("mcp-a1.5", MCP(1.5, 0.7), mcp_r(1.5, 0.7)),
    Case("mcp-a3", MCP(3.0, 0.7), mcp_r(3.0, 0.7)),
    Case("scad-a2.5", SCAD(2.5, 0.7), scad_r(2.5, 0.7)),
    Case("scad-a3.7", SCAD(3.7, 0.7), scad_r(3.7, 0.7)),
]
