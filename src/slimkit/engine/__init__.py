"""Training engine: loop, training terms, optimizers, checkpoints, distributed helpers."""

from slimkit.engine.evaluate import EvalResult, evaluate
from slimkit.engine.loop import Trainer, TrainingDiverged, TrainResult
from slimkit.engine.optim import LRSchedule, OptimizerConfig, ScheduleConfig, build_optimizer
from slimkit.engine.terms import TERMS, TermConfig, TrainingTerm, register_term

__all__ = [
    "TERMS",
    "EvalResult",
    "LRSchedule",
    "OptimizerConfig",
    "ScheduleConfig",
    "TermConfig",
    "TrainResult",
    "Trainer",
    "TrainingDiverged",
    "TrainingTerm",
    "build_optimizer",
    "evaluate",
    "register_term",
]
