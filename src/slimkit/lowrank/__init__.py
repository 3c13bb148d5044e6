"""Low rank: Trained Rank Pruning (the ``trp`` term) and factorization into two thin layers.

The ``trp`` training term and the ``factorize`` artifact edit are declared in :mod:`slimkit.builtins`.

Example:
    >>> import torch
    >>> from slimkit.models import build_model
    >>> model = build_model("resnet8_tiny").eval()
    >>> x = torch.randn(2, 3, 32, 32)
    >>> before = model(x)
    >>> after = factorize_model(model, {"layer1.0.conv1": 12}, "spatial")(x)  # full rank: exact
    >>> bool((after - before).abs().max() < 1e-4)
    True

Public names are re-exported lazily (:mod:`slimkit._lazy`): importing the package imports
no submodule until a name is used.
"""

from slimkit._lazy import lazy_exports

_EXPORTS = {
    "eligible_layers": "slimkit.lowrank.factorize",
    "factorize_conv": "slimkit.lowrank.factorize",
    "factorize_edit": "slimkit.lowrank.factorize",
    "factorize_linear": "slimkit.lowrank.factorize",
    "factorize_model": "slimkit.lowrank.factorize",
    "max_rank": "slimkit.lowrank.factorize",
    "FactorizationPlan": "slimkit.lowrank.plan",
    "LayerPlan": "slimkit.lowrank.plan",
    "plan_factorization": "slimkit.lowrank.plan",
    "energy_rank": "slimkit.lowrank.rank",
    "relative_rank": "slimkit.lowrank.rank",
    "select_rank": "slimkit.lowrank.rank",
    "from_matrix": "slimkit.lowrank.reshapes",
    "matrix_shape": "slimkit.lowrank.reshapes",
    "to_matrix": "slimkit.lowrank.reshapes",
    "grouped_svd": "slimkit.lowrank.svd",
    "TrainedRankPruning": "slimkit.lowrank.trp",
    "TRPConfig": "slimkit.lowrank.config",
    "build_trp": "slimkit.lowrank.trp",
    "nuclear_subgradient": "slimkit.lowrank.trp",
    "project": "slimkit.lowrank.trp",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
