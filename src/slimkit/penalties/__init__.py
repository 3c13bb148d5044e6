"""Penalties: values, closed-form proximal operators and subgradients on whole tensors.

Convention (digest ``network_slimming_family.md`` §1): ``pen.prox(x, step)`` returns
``argmin_z 1/2 ||z - x||^2 + step * R(z)``. Elementwise penalties act on any tensor; group
penalties treat the rows of ``x.reshape(x.shape[0], -1)`` as groups.

Example:
    >>> import torch
    >>> from slimkit.penalties import build_penalty
    >>> pen = build_penalty("l1")
    >>> pen.prox(torch.tensor([-2.0, 0.5, 3.0]), 1.0)
    tensor([-1.,  0.,  2.])
"""

from slimkit.penalties.base import Penalty
from slimkit.penalties.group_l21 import GroupL21
from slimkit.penalties.group_ops import (
    block_soft_threshold,
    sparse_group_l0_prox,
    sparse_group_l1_prox,
)
from slimkit.penalties.l0 import L0
from slimkit.penalties.l1 import L1
from slimkit.penalties.lp import Lp
from slimkit.penalties.mcp import MCP
from slimkit.penalties.registry import PENALTIES, build_penalty
from slimkit.penalties.scad import SCAD
from slimkit.penalties.sparse_group import SparseGroup
from slimkit.penalties.thresholding import (
    gst_threshold,
    half_threshold,
    hard_threshold,
    mcp_threshold,
    scad_threshold,
    soft_threshold,
    tl1_threshold,
    two_thirds_threshold,
)
from slimkit.penalties.transformed_l1 import TransformedL1

__all__ = [
    "GroupL21",
    "L0",
    "L1",
    "Lp",
    "MCP",
    "PENALTIES",
    "Penalty",
    "SCAD",
    "SparseGroup",
    "TransformedL1",
    "block_soft_threshold",
    "build_penalty",
    "gst_threshold",
    "half_threshold",
    "hard_threshold",
    "mcp_threshold",
    "scad_threshold",
    "soft_threshold",
    "sparse_group_l0_prox",
    "sparse_group_l1_prox",
    "tl1_threshold",
    "two_thirds_threshold",
]
