"""Helpers shared by the measurement functions: argument checks, eval-mode scoping, inputs."""

from __future__ import annotations

import contextlib
import difflib
from collections.abc import Iterator, Mapping, Sequence

import torch
from torch import nn


def check_input_size(input_size: object) -> tuple[int, int, int]:
    """Validate a per-sample ``(C, H, W)`` input size and return it as a tuple of ints."""
    ok = (
        isinstance(input_size, (tuple, list))
        and len(input_size) == 3
        and all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in input_size)
    )
    if not ok:
        raise ValueError(f"input_size: expected 3 positive ints (C, H, W), got {input_size!r}")
    c, h, w = input_size  # type: ignore[misc]
    return int(c), int(h), int(w)


def check_positive_int(name: str, value: object, minimum: int = 1) -> int:
    """Validate an integer argument that must be at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name}: expected an int >= {minimum}, got {value!r}")
    return value


def check_choices(
    name: str,
    values: Sequence[str],
    allowed: Sequence[str],
    hints: Mapping[str, str] | None = None,
) -> list[str]:
    """Validate that each of ``values`` is one of ``allowed`` (naming the nearest valid one).

    ``hints`` maps common wrong names (e.g. ``"onnxruntime"``) to the valid one to suggest.
    """
    if isinstance(values, str):
        raise ValueError(f"{name}: expected a sequence of names, got the string {values!r}")
    out = list(values)
    if not out:
        raise ValueError(f"{name}: expected at least one of {', '.join(allowed)}, got nothing")
    for v in out:
        if v not in allowed:
            close = [hints[v]] if hints and v in hints else []
            close = close or difflib.get_close_matches(str(v), allowed, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ValueError(f"{name}: unknown value {v!r}; allowed: {', '.join(allowed)}{hint}")
    return out


@contextlib.contextmanager
def eval_mode(model: nn.Module) -> Iterator[nn.Module]:
    """Put ``model`` in eval mode and restore every submodule's own ``training`` flag on exit.

    Restoring per submodule (not ``model.train(flag)``) keeps mixed states such as frozen BN.
    """
    flags = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        yield model
    finally:
        for m, flag in flags:
            m.training = flag


def model_device_dtype(model: nn.Module) -> tuple[torch.device, torch.dtype]:
    """Device and floating dtype of the model's first floating parameter (CPU/float32 if none)."""
    for p in model.parameters():
        if p.is_floating_point():
            return p.device, p.dtype
    return torch.device("cpu"), torch.float32


def uses_channels_last(model: nn.Module) -> bool:
    """True when some 4-d conv weight is stored channels_last (and not also plain contiguous)."""
    for m in model.modules():
        w = getattr(m, "weight", None)
        if (
            isinstance(m, nn.modules.conv._ConvNd)
            and isinstance(w, torch.Tensor)
            and w.dim() == 4
            and w.is_contiguous(memory_format=torch.channels_last)
            and not w.is_contiguous()
        ):
            return True
    return False


def make_input(
    model: nn.Module,
    input_size: tuple[int, int, int],
    batch_size: int,
    *,
    seed: int = 0,
    channels_last: bool | None = None,
) -> torch.Tensor:
    """A seeded standard-normal batch on the model's device/dtype.

    ``channels_last=None`` follows the model's conv weight layout.
    """
    device, dtype = model_device_dtype(model)
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn((batch_size, *input_size), generator=gen, dtype=torch.float32)
    x = x.to(device=device, dtype=dtype)
    if channels_last is None:
        channels_last = uses_channels_last(model)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    return x


def flatten_tensors(obj: object) -> list[torch.Tensor]:
    """Tensors of a (nested) tuple/list/dict output in a deterministic order."""
    if isinstance(obj, torch.Tensor):
        return [obj]
    if isinstance(obj, dict):
        return [t for k in obj for t in flatten_tensors(obj[k])]
    if isinstance(obj, (tuple, list)):
        return [t for v in obj for t in flatten_tensors(v)]
    return []
