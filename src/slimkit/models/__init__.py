"""Model zoo: a registry of CIFAR-style models plus ``tv:`` / ``timm:`` adapters.

The zoo's names are declared in :mod:`slimkit.builtins`; a model module is imported when its model
is first built. Names here are re-exported lazily, so ``import slimkit.models.config`` imports no
torch.

Example:
    >>> import torch
    >>> from slimkit.models import build_model
    >>> build_model("resnet20")(torch.randn(1, 3, 32, 32)).shape
    torch.Size([1, 10])
"""

from slimkit._lazy import lazy_exports

_EXPORTS = {
    "ModelConfig": "slimkit.models.config",
    "UnknownModelError": "slimkit.models.registry",
    "build_model": "slimkit.models.registry",
    "list_models": "slimkit.models.registry",
    "register_model": "slimkit.models.registry",
    "CifarResNet": "slimkit.models.resnet_cifar",
    "PreActResNet": "slimkit.models.preact_resnet",
    "VGG": "slimkit.models.vgg",
    "DenseNet": "slimkit.models.densenet",
    "WideResNet": "slimkit.models.wide_resnet",
    "LeNet5": "slimkit.models.lenet",
    "PadShortcut": "slimkit.models.pad_shortcut",
    "shortcut_a_to_b": "slimkit.models.shortcut_convert",
    "WeightsMismatchError": "slimkit.models.weights",
    "load_weights": "slimkit.models.weights",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
