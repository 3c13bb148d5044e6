"""Training engine: loop, training terms, optimizers, checkpoints, distributed helpers.

Names are re-exported lazily (:mod:`slimkit._lazy`): ``import slimkit.engine.config`` imports no
torch; ``from slimkit.engine import Trainer`` imports the loop.
"""

from slimkit._lazy import lazy_exports

_EXPORTS = {
    "EvalResult": "slimkit.engine.evaluate",
    "evaluate": "slimkit.engine.evaluate",
    "Trainer": "slimkit.engine.loop",
    "TrainingDiverged": "slimkit.engine.loop",
    "TrainResult": "slimkit.engine.loop",
    "LRSchedule": "slimkit.engine.optim",
    "build_optimizer": "slimkit.engine.optim",
    "OptimizerConfig": "slimkit.engine.config",
    "ScheduleConfig": "slimkit.engine.config",
    "TermConfig": "slimkit.engine.config",
    "TERMS": "slimkit.registry",
    "TrainingTerm": "slimkit.engine.terms",
    "register_term": "slimkit.engine.terms",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
