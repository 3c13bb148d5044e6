"""Knowledge distillation: logit KD, feature affinity (FA) and fast FA (FFA), label-free mode
(FAQD, Li et al., IEEE Access 2023; digest ../shared/papers/trp_faqd.md part 2). The ``distill``
training term is declared in :mod:`slimkit.builtins` (config in :mod:`slimkit.distill.config`).

Public names are re-exported lazily (:mod:`slimkit._lazy`): importing the package imports
no submodule until a name is used.
"""

from slimkit._lazy import lazy_exports

_EXPORTS = {
    "FeatureAdapter": "slimkit.distill.affinity",
    "affinity": "slimkit.distill.affinity",
    "fa_loss": "slimkit.distill.affinity",
    "ffa_loss": "slimkit.distill.affinity",
    "match_size": "slimkit.distill.affinity",
    "normalize_pixels": "slimkit.distill.affinity",
    "kd_kl": "slimkit.distill.kd",
    "kd_mse": "slimkit.distill.kd",
    "TeacherConfig": "slimkit.distill.config",
    "TeacherModelConfig": "slimkit.distill.config",
    "build_teacher": "slimkit.distill.teacher",
    "freeze": "slimkit.distill.teacher",
    "DistillConfig": "slimkit.distill.config",
    "DistillTerm": "slimkit.distill.terms",
    "build_distill": "slimkit.distill.terms",
    "default_feature_layers": "slimkit.distill.terms",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
