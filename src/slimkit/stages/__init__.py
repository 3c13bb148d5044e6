"""Recipe stages; importing this package registers the built-in ones."""

from slimkit.stages import evaluate, export, measure, prune, train  # noqa: F401  (registration)
from slimkit.stages import factorize as _factorize  # noqa: F401  (registration)
from slimkit.stages import quantize as _quantize  # noqa: F401  (registration)
from slimkit.stages.base import STAGES, StageConfig, StageSpec, register_stage

__all__ = ["STAGES", "StageConfig", "StageSpec", "register_stage"]
