"""Sparsity training terms: BN-scale slimming (subgradient, nonconvex, proximal) and weight/filter
sparsity by relaxed variable splitting (``sgl``).

Names are re-exported lazily: ``import slimkit.sparsity.config`` imports no torch.
"""

from slimkit._lazy import lazy_exports

_EXPORTS = {
    "BNSparsityConfig": "slimkit.sparsity.config",
    "GroupSplittingConfig": "slimkit.sparsity.config",
    "BNScaleSparsity": "slimkit.sparsity.bn_scale",
    "bn_layers": "slimkit.sparsity.bn_scale",
    "build_bn_sparsity": "slimkit.sparsity.bn_scale",
    "GroupSplitting": "slimkit.sparsity.group_splitting",
    "build_group_splitting": "slimkit.sparsity.group_splitting",
    "default_layers": "slimkit.sparsity.group_splitting",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
