"""Make width attributes true again after channel surgery."""

from __future__ import annotations

import torch
from torch import nn

from slimkit.surgery.graph import classifier_of

__all__ = ["refresh_widths"]


def _feature_channels(model: nn.Module, names: list[str], example_input: torch.Tensor) -> dict:
    # Run one eval forward with hooks and read the channel count of each named module's output.
    modules = dict(model.named_modules())
    seen: dict[str, int] = {}
    hooks = []
    for name in names:
        if name in modules:

            def hook(_m: nn.Module, _args: object, out: object, name: str = name) -> None:
                if isinstance(out, torch.Tensor) and out.dim() >= 2:
                    seen[name] = int(out.shape[1])

            hooks.append(modules[name].register_forward_hook(hook))
    flags = [(m, m.training) for m in model.modules()]
    try:
        model.eval()
        device = next((p.device for p in model.parameters()), example_input.device)
        with torch.no_grad():
            model(example_input.to(device))
    finally:
        for h in hooks:
            h.remove()
        for m, flag in flags:
            m.train(flag)
    return seen


def _width(conv: nn.Module) -> int:
    """Output channels of a conv, or of a factorized one (a ``Sequential`` of convs)."""
    return _width(conv[-1]) if isinstance(conv, nn.Sequential) else int(conv.out_channels)


def _refresh_zoo(model: nn.Module) -> None:
    from slimkit.models import VGG, CifarResNet, DenseNet, PreActResNet, WideResNet

    if isinstance(model, CifarResNet | WideResNet | PreActResNet):
        stages = []
        while hasattr(model, f"layer{len(stages) + 1}"):
            stages.append(getattr(model, f"layer{len(stages) + 1}"))
        blocks = [b for s in stages for b in s]
        if isinstance(model, PreActResNet):
            model.mid_widths = [[_width(b.conv1), _width(b.conv2)] for b in blocks]
            model.stem_width = _width(model.conv1)
        else:
            model.mid_widths = [_width(b.conv1) for b in blocks]
            model.widths = [_width(s[-1].conv2) for s in stages]
            if isinstance(model, WideResNet):
                model.stem_width = _width(model.conv1)
    elif isinstance(model, DenseNet):
        layers = [
            layer
            for b in range(len(model.block_layers))
            for layer in getattr(model, f"block{b + 1}")
        ]
        model.stem_width = _width(model.conv1)
        model.growth_rates = [_width(layer.conv2) for layer in layers]
        if model.bottleneck:
            model.bottleneck_widths = [_width(layer.conv1) for layer in layers]
        model.transition_widths = [
            _width(getattr(model, f"trans{b + 1}").conv) for b in range(len(model.block_layers) - 1)
        ]
    elif isinstance(model, VGG):
        convs = iter(m.out_channels for m in model.features if isinstance(m, nn.Conv2d))
        model.cfg = [v if v == "M" else next(convs) for v in model.cfg]


def refresh_widths(model: nn.Module, example_input: torch.Tensor) -> None:
    """Update width attributes that describe the network after its channels changed.

    - timm: ``num_features`` and ``head_hidden_size`` (classifier input), ``feature_info``
      ``num_chs`` (measured with one forward);
    - torchvision MobileNetV2: ``last_channel``;
    - slimkit zoo: the width arguments (``widths``, ``mid_widths``, ``growth_rates``, ``cfg``...),
      so that the attributes rebuild the same shapes.

    Args:
        model: The (pruned) network; modified in place.
        example_input: A batch the model accepts.

    Example:
        >>> import torch
        >>> from slimkit.models import build_model
        >>> from slimkit.surgery import prune_channels
        >>> model = build_model("vgg_tiny")
        >>> _ = prune_channels(model, {"features.0": [0]}, torch.randn(2, 3, 32, 32))
        >>> model.cfg  # prune_channels calls refresh_widths
        [7, 'M', 16, 'M', 32]
    """
    classifier = classifier_of(model)
    in_features = classifier.in_features if isinstance(classifier, nn.Linear) else None
    if in_features is not None and hasattr(model, "get_classifier"):
        old = getattr(model, "num_features", None)
        if isinstance(old, int):
            model.num_features = in_features
            if getattr(model, "head_hidden_size", None) == old:
                model.head_hidden_size = in_features
    info = getattr(model, "feature_info", None)
    if isinstance(info, list) and info and all(isinstance(d, dict) for d in info):
        seen = _feature_channels(model, [d.get("module", "") for d in info], example_input)
        for entry in info:
            if entry.get("module") in seen and "num_chs" in entry:
                entry["num_chs"] = seen[entry["module"]]
    if type(model).__name__ == "MobileNetV2" and in_features is not None:
        model.last_channel = in_features
    _refresh_zoo(model)
