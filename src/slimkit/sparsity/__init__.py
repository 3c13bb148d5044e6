"""Sparsity training terms: BN-scale slimming (subgradient, nonconvex, proximal)."""

from slimkit.sparsity.bn_scale import (
    BNScaleSparsity,
    BNSparsityConfig,
    bn_layers,
    build_bn_sparsity,
)

__all__ = ["BNScaleSparsity", "BNSparsityConfig", "bn_layers", "build_bn_sparsity"]
