"""The surgery contract on one model: exact removal of zero-scale channels, or a one-line refusal.

:func:`check_surgery` builds a model, gives its BatchNorms random statistics and affine
parameters, zeroes ``zero_fraction`` of the BN channels (gamma = beta = 0) at random, and then,
for the ``zeros`` rule and for the ``macs`` rule:

1. masks the chosen channels and records the output of the masked model,
2. removes them physically and measures the relative output change
   (``max |pruned - masked| / max |masked|``),
3. exports the pruned model to ONNX and measures ONNX Runtime parity (relative),
4. replays the removal as an artifact edit, saves and reloads it in this process and compares
   outputs.

A model passes when every change is within tolerance, or when surgery refuses with a one-line
error (the outcome then says why). Anything else, a silent change or a multi-line crash, fails.
``benchmarks/surgery_contract.py`` runs it over every torchvision classification model and a
dozen timm CNN families; ``tests/surgery/test_contract_zoo.py`` asserts it.

Example:
    >>> result = check_surgery("vgg_tiny", input_size=(3, 32, 32), onnx=False)
    >>> result.outcome, result.zeros_change <= 1e-5, result.reload_equal
    ('exact', True, True)
"""

from __future__ import annotations

import copy
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from slimkit.errors import first_line

__all__ = [
    "EXACT",
    "TIMM_FAMILIES",
    "SurgeryCheck",
    "check_surgery",
    "contract_models",
    "randomize_batchnorms",
]

EXACT = 1e-5  # relative output change of an exact removal (float32 rounding)
ONNX_PARITY = 1e-4  # relative ONNX Runtime vs torch difference


@dataclass
class SurgeryCheck:
    """What :func:`check_surgery` found for one model.

    Attributes:
        model: Builder name.
        outcome: ``"exact"`` (every check within tolerance), ``"refused"`` (a one-line error,
            in ``reason``), ``"no groups"`` (nothing BN-prunable) or ``"FAILED"`` (a silent change
            or an error that is not one line; ``reason`` says which).
        input_size: ``(C, H, W)`` used.
        prunable_channels: Channels in BN-prunable groups.
        zeros_removed: Channels the ``zeros`` rule removed.
        zeros_change: Relative output change of the ``zeros`` removal.
        macs_removed: Channels the ``macs`` rule removed (``macs_target`` of the masked MACs).
        macs_change: Relative output change of the ``macs`` removal.
        onnx_parity: Relative ONNX Runtime difference of the ``zeros``-pruned model.
        reload_equal: The artifact (build + ``prune_channels`` edit) reloads with the same outputs.
        reason: The one-line refusal or failure.
        seconds: Wall time of the check.
    """

    model: str
    outcome: str = "exact"
    input_size: tuple[int, int, int] = (3, 64, 64)
    prunable_channels: int = 0
    zeros_removed: int = 0
    zeros_change: float | None = None
    macs_removed: int = 0
    macs_change: float | None = None
    onnx_parity: float | None = None
    reload_equal: bool | None = None
    reason: str = ""
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return asdict(self)


def randomize_batchnorms(model: nn.Module, zero_fraction: float, seed: int) -> int:
    """Give every affine BN random running statistics and affine parameters and set
    ``gamma = beta = 0`` on a random ``zero_fraction`` of its channels; returns the number of
    zeroed channels.

    Example:
        >>> from slimkit.models import build_model
        >>> randomize_batchnorms(build_model("vgg_tiny"), 0.5, seed=0) > 0
        True
    """
    gen = torch.Generator().manual_seed(seed)
    zeroed = 0
    with torch.no_grad():
        for module in model.modules():
            if not isinstance(module, _BatchNorm) or not module.affine:
                continue
            n = module.num_features
            if module.running_mean is not None:
                module.running_mean.copy_(torch.empty(n).uniform_(-0.5, 0.5, generator=gen))
                module.running_var.copy_(torch.empty(n).uniform_(0.5, 2.0, generator=gen))
            module.weight.copy_(torch.empty(n).uniform_(0.5, 1.0, generator=gen))
            module.bias.copy_(torch.empty(n).uniform_(-0.5, 0.5, generator=gen))
            zero = torch.rand(n, generator=gen) < zero_fraction
            module.weight[zero] = 0.0
            module.bias[zero] = 0.0
            zeroed += int(zero.sum())
    return zeroed


TIMM_FAMILIES = [
    "timm:resnet18",
    "timm:efficientnet_b0",
    "timm:mobilenetv3_small_100",
    "timm:mobilenetv2_100",
    "timm:ghostnet_100",
    "timm:regnetx_002",
    "timm:densenet121",
    "timm:dla34",
    "timm:rexnet_100",
    "timm:mixnet_s",
    "timm:lcnet_050",
    "timm:cspresnet50",
    "timm:repvgg_a0",
    "timm:hrnet_w18_small",
    "timm:convnext_atto",
]


def contract_models(max_params: float | None = None) -> list[str]:
    """Every torchvision classification model (``tv:``), then :data:`TIMM_FAMILIES`.

    Args:
        max_params: Only torchvision models with at most this many parameters (at 1000
            classes, from torchvision's weight metadata), e.g. to bound a test's memory.
    """
    import torchvision
    from torchvision.models import get_model_weights

    names = sorted(torchvision.models.list_models(module=torchvision.models))
    if max_params is not None:
        names = [n for n in names if get_model_weights(n).DEFAULT.meta["num_params"] <= max_params]
    return [f"tv:{n}" for n in names] + TIMM_FAMILIES


def _relative(out: torch.Tensor, ref: torch.Tensor) -> float:
    scale = float(ref.abs().max())
    return float((out - ref).abs().max()) / max(scale, 1e-30)


def _first_output(value: Any) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        return value
    if isinstance(value, (tuple, list)):
        return _first_output(value[0])
    if hasattr(value, "logits"):  # torchvision GoogLeNet/Inception outputs in train mode
        return value.logits
    raise TypeError(f"model output {type(value).__name__} has no tensor")


def _input_size(model: nn.Module, candidates: tuple[int, ...]) -> tuple[int, int, int]:
    for side in candidates:
        try:
            with torch.no_grad():
                model(torch.randn(1, 3, side, side))
            return (3, side, side)
        except Exception:  # noqa: BLE001, S112  (try the next size)
            continue
    raise ValueError(f"forward fails at every input size in {candidates}")


def _one_line(exc: BaseException) -> bool:
    return "\n" not in str(exc).strip()


def check_surgery(
    name: str,
    *,
    input_size: tuple[int, int, int] | None = None,
    sizes: tuple[int, ...] = (64, 224),
    zero_fraction: float = 0.3,
    macs_target: float = 0.8,
    seed: int = 0,
    onnx: bool = True,
) -> SurgeryCheck:
    """Run the surgery contract on the model ``name`` (zoo, ``tv:`` or ``timm:``); see the module
    docstring. ``input_size`` defaults to the first of ``sizes`` the model accepts."""
    from slimkit.artifacts import SlimModel, load_artifact, save_artifact
    from slimkit.models import build_model
    from slimkit.surgery.groups import channel_groups
    from slimkit.surgery.prune import mask_channels, prune_channels
    from slimkit.surgery.select import select_channels

    start = time.perf_counter()
    result = SurgeryCheck(model=name)
    model = build_model(name, num_classes=10).eval()
    size = input_size or _input_size(model, sizes)
    result.input_size = tuple(size)
    x = torch.randn(2, *size, generator=torch.Generator().manual_seed(seed))
    randomize_batchnorms(model, zero_fraction, seed)
    step = "grouping"
    try:
        groups = channel_groups(model, x)
        result.prunable_channels = sum(g.channels for g in groups)
        if not groups:
            result.outcome = "no groups"
            result.reason = "no conv/linear whose channels an affine BN switches off"
            return result
        step = "zeros rule"
        removal = select_channels(groups, "zeros")
        by_root = {g.root: g for g in groups}
        result.zeros_removed = sum(by_root[r].count(len(v)) for r, v in removal.items())
        state = copy.deepcopy(model.state_dict())
        with torch.no_grad():
            reference = _first_output(model(x))
            pruned = prune_channels(copy.deepcopy(model), removal, x)
            result.zeros_change = _relative(_first_output(pruned(x)), reference)
        if onnx:
            step = "ONNX export"
            from slimkit.measure.onnx_export import export_onnx

            with tempfile.TemporaryDirectory() as tmp:
                exported = export_onnx(pruned, Path(tmp) / "m.onnx", size)
            result.onnx_parity = float(exported.max_rel_diff)
        step = "artifact"
        handle = SlimModel.build(name, num_classes=10, input_size=size)
        handle.module.load_state_dict(state)
        handle.apply_edit("prune_channels", removal=removal, input_size=list(size))
        with tempfile.TemporaryDirectory() as tmp:
            save_artifact(handle, Path(tmp) / "m.slim.pt")
            loaded = load_artifact(Path(tmp) / "m.slim.pt").module.eval()
        with torch.no_grad():
            result.reload_equal = bool(
                torch.allclose(
                    _first_output(loaded(x)), _first_output(pruned(x)), rtol=1e-6, atol=1e-6
                )
            )
        step = "macs rule"
        work = copy.deepcopy(model)
        chosen = select_channels(
            groups, "macs", macs_target=macs_target, model=work, example_input=x[:1]
        )
        result.macs_removed = sum(by_root[r].count(len(v)) for r, v in chosen.items())
        mask_channels(work, chosen, groups=groups)
        with torch.no_grad():
            masked = _first_output(work(x))
            narrowed = prune_channels(work, chosen, x)
            result.macs_change = _relative(_first_output(narrowed(x)), masked)
    except Exception as exc:  # noqa: BLE001  (the outcome records every failure)
        line = first_line(exc, 300)
        if _one_line(exc) and isinstance(exc, ValueError):
            result.outcome = "refused"
            result.reason = f"{step}: {type(exc).__name__}: {line}"
        else:
            result.outcome = "FAILED"
            result.reason = f"{step}: {type(exc).__name__} (not a one-line refusal): {line}"
    finally:
        result.seconds = round(time.perf_counter() - start, 2)
    if result.outcome == "exact":
        failures = [
            f"{what} {value:.2e} > {limit:.0e}"
            for what, value, limit in (
                ("zeros change", result.zeros_change, EXACT),
                ("macs change", result.macs_change, EXACT),
                ("ONNX parity", result.onnx_parity, ONNX_PARITY),
            )
            if value is not None and not value <= limit
        ]
        if result.reload_equal is False:
            failures.append("artifact reload differs")
        if failures:
            result.outcome = "FAILED"
            result.reason = "; ".join(failures)
    return result
