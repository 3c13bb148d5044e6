"""Load a trained checkpoint (a plain state dict) into a zoo model, strictly.

Checkpoints saved by other code rarely use exactly our key names. :func:`load_weights` handles
the two differences that carry no ambiguity and refuses everything else:

- a prefix shared by every key, such as ``module.`` from ``nn.DataParallel``/DDP;
- a classifier named ``linear`` (akamaster's CIFAR ResNets) where ours is named ``fc``.

BatchNorm ``num_batches_tracked`` buffers may be missing (files saved by PyTorch <= 0.4). Any
other missing or unexpected key, or any shape difference, is a :class:`WeightsMismatchError`
with a one-line message, and the model is left untouched.

Example:
    >>> import tempfile, torch
    >>> from slimkit.models import build_model
    >>> source = build_model("resnet8_tiny")
    >>> state = {"module." + k: v for k, v in source.state_dict().items()}
    >>> path = tempfile.mkdtemp() + "/w.pt"
    >>> torch.save(state, path)
    >>> model = build_model("resnet8_tiny")
    >>> load_weights(model, path)
    >>> bool(torch.equal(model.fc.weight, source.fc.weight))
    True
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn

from slimkit.engine.checkpoint import UnreadableFile, read_torch_file

PREFIXES = ("module.", "model.", "_orig_mod.")
"""Prefixes stripped when every key of a checkpoint carries one (DataParallel, wrappers,
``torch.compile``)."""

KEY_ALIASES = {"linear.": "fc."}
"""Leading key parts renamed when the model has no such module but has the alias."""

OPTIONAL_SUFFIXES = ("num_batches_tracked",)
"""Buffers that may be absent from a checkpoint; the model keeps its own value."""


class WeightsMismatchError(ValueError):
    """A checkpoint does not fit the model (keys or shapes); the message is one line."""


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Read a state dict of tensors from ``path`` with ``weights_only=True``.

    Accepts a plain state dict, a dict wrapping one under ``state_dict`` or ``model``, and a
    slimkit artifact (its ``state_dict``).

    Example:
        >>> import tempfile, torch
        >>> path = tempfile.mkdtemp() + "/w.pt"
        >>> torch.save({"state_dict": {"w": torch.ones(2)}}, path)
        >>> list(read_state_dict(path))
        ['w']
    """
    path = Path(os.path.expanduser(str(path)))
    if not path.is_file():
        raise WeightsMismatchError(f"weights file not found: {path}")
    try:
        obj = read_torch_file(path)
    except UnreadableFile as exc:
        raise WeightsMismatchError(f"cannot read weights {path}: {exc}") from None
    for key in ("state_dict", "model"):
        if isinstance(obj, Mapping) and isinstance(obj.get(key), Mapping):
            obj = obj[key]
    if not isinstance(obj, Mapping) or not obj:
        raise WeightsMismatchError(f"weights {path} hold no state dict of tensors")
    state = {str(k): v for k, v in obj.items() if isinstance(v, torch.Tensor)}
    if not state:
        raise WeightsMismatchError(f"weights {path} hold no tensors")
    return state


def match_keys(state: Mapping[str, torch.Tensor], model_keys: set[str]) -> dict[str, torch.Tensor]:
    """Rename the keys of ``state`` to the model's names (shared prefix, known aliases).

    Example:
        >>> import torch
        >>> sorted(match_keys({"module.linear.weight": torch.ones(1)}, {"fc.weight"}))
        ['fc.weight']
    """
    out = dict(state)
    for prefix in PREFIXES:
        if all(k.startswith(prefix) for k in out) and not any(
            k.startswith(prefix) for k in model_keys
        ):
            out = {k[len(prefix) :]: v for k, v in out.items()}
    renamed: dict[str, torch.Tensor] = {}
    for key, value in out.items():
        if key not in model_keys:
            for old, new in KEY_ALIASES.items():
                candidate = new + key[len(old) :] if key.startswith(old) else None
                if candidate in model_keys:
                    key = candidate
                    break
        renamed[key] = value
    return renamed


def load_weights(model: nn.Module, path: str | Path) -> None:
    """Load the checkpoint at ``path`` into ``model`` in place, refusing any mismatch.

    Args:
        model: The freshly built network.
        path: A ``.pt``/``.pth`` file holding a state dict (see :func:`read_state_dict`).

    Raises:
        WeightsMismatchError: The file is missing or unreadable, keys are missing or unexpected,
            or a tensor's shape differs; one line naming the first offending key.
    """
    target = model.state_dict()
    state = match_keys(read_state_dict(path), set(target))
    missing = [k for k in target if k not in state and not k.endswith(OPTIONAL_SUFFIXES)]
    unexpected = [k for k in state if k not in target]
    name = type(model).__name__
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing keys (first '{missing[0]}')")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected keys (first '{unexpected[0]}')")
        raise WeightsMismatchError(
            f"weights {path} do not fit {name}: {', '.join(parts)}; check the model name, its "
            "kwargs (e.g. shortcut A/B) and num_classes"
        )
    for key, value in state.items():
        if tuple(value.shape) != tuple(target[key].shape):
            raise WeightsMismatchError(
                f"weights {path} do not fit {name}: '{key}' has shape {tuple(value.shape)} in "
                f"the file but {tuple(target[key].shape)} in the model"
            )
    model.load_state_dict(state, strict=False)
