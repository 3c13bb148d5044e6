"""Knowledge distillation: logit KD, feature affinity (FA) and fast FA (FFA), label-free mode
(FAQD, Li et al., IEEE Access 2023; digest ../shared/papers/trp_faqd.md part 2). Importing the
package registers the ``distill`` training term."""

from slimkit.distill.affinity import (
    FeatureAdapter,
    affinity,
    fa_loss,
    ffa_loss,
    match_size,
    normalize_pixels,
)
from slimkit.distill.kd import kd_kl, kd_mse
from slimkit.distill.teacher import TeacherConfig, TeacherModelConfig, build_teacher, freeze
from slimkit.distill.terms import DistillConfig, DistillTerm, build_distill, default_feature_layers

__all__ = [
    "DistillConfig",
    "DistillTerm",
    "FeatureAdapter",
    "TeacherConfig",
    "TeacherModelConfig",
    "affinity",
    "build_distill",
    "build_teacher",
    "default_feature_layers",
    "fa_loss",
    "ffa_loss",
    "freeze",
    "kd_kl",
    "kd_mse",
    "match_size",
    "normalize_pixels",
]
