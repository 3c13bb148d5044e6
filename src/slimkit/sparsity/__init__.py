"""Sparsity training terms: BN-scale slimming (subgradient, nonconvex, proximal) and weight/filter
sparsity by relaxed variable splitting (``sgl``)."""

from slimkit.sparsity.bn_scale import (
    BNScaleSparsity,
    BNSparsityConfig,
    bn_layers,
    build_bn_sparsity,
)
from slimkit.sparsity.group_splitting import (
    GroupSplitting,
    GroupSplittingConfig,
    build_group_splitting,
    default_layers,
)

__all__ = [
    "BNScaleSparsity",
    "BNSparsityConfig",
    "GroupSplitting",
    "GroupSplittingConfig",
    "bn_layers",
    "build_bn_sparsity",
    "build_group_splitting",
    "default_layers",
]
