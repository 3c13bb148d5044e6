"""Model zoo: a registry of CIFAR-style models plus ``tv:`` / ``timm:`` adapters.

Example:
    >>> import torch
    >>> from slimkit.models import build_model
    >>> build_model("resnet20")(torch.randn(1, 3, 32, 32)).shape
    torch.Size([1, 10])
"""

from __future__ import annotations

# isort: off
# The registry first, then the model modules in the order `slimkit models` lists them
# (importing a model module registers its builders).
from slimkit.models.registry import UnknownModelError, build_model, list_models, register_model
from slimkit.models.resnet_cifar import CifarResNet
from slimkit.models.preact_resnet import PreActResNet
from slimkit.models.vgg import VGG
from slimkit.models.densenet import DenseNet
from slimkit.models.wide_resnet import WideResNet
from slimkit.models.lenet import LeNet5
from slimkit.models.pad_shortcut import PadShortcut
from slimkit.models.shortcut_convert import shortcut_a_to_b
from slimkit.models.weights import WeightsMismatchError, load_weights
# isort: on

__all__ = [
    "VGG",
    "CifarResNet",
    "DenseNet",
    "LeNet5",
    "PadShortcut",
    "PreActResNet",
    "UnknownModelError",
    "WeightsMismatchError",
    "WideResNet",
    "build_model",
    "list_models",
    "load_weights",
    "register_model",
    "shortcut_a_to_b",
]
