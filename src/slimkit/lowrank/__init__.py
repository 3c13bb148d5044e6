"""Low rank: Trained Rank Pruning (the ``trp`` term) and factorization into two thin layers.

Importing this package registers the ``trp`` training term and the ``factorize`` artifact edit.

Example:
    >>> import torch
    >>> from slimkit.models import build_model
    >>> model = build_model("resnet8_tiny").eval()
    >>> x = torch.randn(2, 3, 32, 32)
    >>> before = model(x)
    >>> after = factorize_model(model, {"layer1.0.conv1": 12}, "spatial")(x)  # full rank: exact
    >>> bool((after - before).abs().max() < 1e-4)
    True
"""

from slimkit.lowrank.factorize import (
    eligible_layers,
    factorize_conv,
    factorize_edit,
    factorize_linear,
    factorize_model,
    max_rank,
)
from slimkit.lowrank.plan import FactorizationPlan, LayerPlan, plan_factorization
from slimkit.lowrank.rank import energy_rank, relative_rank, select_rank
from slimkit.lowrank.reshapes import from_matrix, matrix_shape, to_matrix
from slimkit.lowrank.svd import grouped_svd
from slimkit.lowrank.trp import (
    TrainedRankPruning,
    TRPConfig,
    build_trp,
    nuclear_subgradient,
    project,
)

__all__ = [
    "FactorizationPlan",
    "LayerPlan",
    "TRPConfig",
    "TrainedRankPruning",
    "build_trp",
    "eligible_layers",
    "energy_rank",
    "factorize_conv",
    "factorize_edit",
    "factorize_linear",
    "factorize_model",
    "from_matrix",
    "grouped_svd",
    "matrix_shape",
    "max_rank",
    "nuclear_subgradient",
    "plan_factorization",
    "project",
    "relative_rank",
    "select_rank",
    "to_matrix",
]
