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

Public names are re-exported lazily (:mod:`slimkit._lazy`): importing the package imports
no submodule until a name is used.
"""

from slimkit._lazy import lazy_exports

_EXPORTS = {
    "Penalty": "slimkit.penalties.base",
    "GroupL21": "slimkit.penalties.group_l21",
    "block_soft_threshold": "slimkit.penalties.group_ops",
    "sparse_group_l0_prox": "slimkit.penalties.group_ops",
    "sparse_group_l1_prox": "slimkit.penalties.group_ops",
    "L0": "slimkit.penalties.l0",
    "L1": "slimkit.penalties.l1",
    "Lp": "slimkit.penalties.lp",
    "MCP": "slimkit.penalties.mcp",
    "PENALTIES": "slimkit.penalties.registry",
    "build_penalty": "slimkit.penalties.registry",
    "SCAD": "slimkit.penalties.scad",
    "SparseGroup": "slimkit.penalties.sparse_group",
    "gst_threshold": "slimkit.penalties.thresholding",
    "half_threshold": "slimkit.penalties.thresholding",
    "hard_threshold": "slimkit.penalties.thresholding",
    "mcp_threshold": "slimkit.penalties.thresholding",
    "scad_threshold": "slimkit.penalties.thresholding",
    "soft_threshold": "slimkit.penalties.thresholding",
    "tl1_threshold": "slimkit.penalties.thresholding",
    "two_thirds_threshold": "slimkit.penalties.thresholding",
    "TransformedL1": "slimkit.penalties.transformed_l1",
    "check_penalty": "slimkit.penalties.registry",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
