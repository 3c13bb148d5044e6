"""Recipe stages. The built-in ones are declared in :mod:`slimkit.builtins`; their configs live in
the torch-free :mod:`slimkit.stages.config`, their run functions in ``slimkit.stages.<kind>``."""

from slimkit._lazy import lazy_exports

_EXPORTS = {
    "STAGES": "slimkit.registry",
    "StageConfig": "slimkit.stages.config",
    "StageSpec": "slimkit.stages.base",
    "register_stage": "slimkit.stages.base",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
