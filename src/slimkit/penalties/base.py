"""The :class:`Penalty` base class and the small tensor helpers every penalty shares.

Convention (digest ``network_slimming_family.md`` §1): ``prox(x, step)`` returns
``prox_{step*R}(x) = argmin_z 1/2 ||z - x||^2 + step * R(z)``, i.e. the *half* convention. Papers
written without the 1/2 need their lambda doubled before comparing thresholds.
"""

from __future__ import annotations

import math
import numbers
from abc import ABC, abstractmethod

import torch
from torch import Tensor

Step = float | Tensor

_LOW_PRECISION = (torch.float16, torch.bfloat16)


class Penalty(ABC):
    """A regularizer ``R``: its value, proximal operator and (sub)gradient, on whole tensors.

    Subclasses are small frozen dataclasses holding the penalty's shape parameters (e.g. ``p``
    or ``a``); the strength ``lambda`` is passed as ``step`` to :meth:`prox` (for a proximal
    gradient step with learning rate ``lr`` on ``loss + lam * R`` use ``step = lr * lam``).

    Example:
        >>> import torch
        >>> from slimkit.penalties import L1
        >>> pen = L1()
        >>> pen.prox(torch.tensor([-2.0, 0.3, 1.5]), 0.5)
        tensor([-1.5000,  0.0000,  1.0000])
    """

    name: str = "penalty"

    @abstractmethod
    def value(self, x: Tensor) -> Tensor:
        """Return ``R(x)`` summed over all entries (or groups) as a 0-d tensor of ``x``'s dtype."""

    @abstractmethod
    def prox(self, x: Tensor, step: Step) -> Tensor:
        """Return ``prox_{step*R}(x)`` as a new tensor of ``x``'s shape, dtype and device."""

    def subgradient(self, x: Tensor, eps: float = 1e-8) -> Tensor:
        """Return the elementwise (sub)gradient of ``R`` used by subgradient slimming.

        Raises:
            NotImplementedError: for penalties without a useful subgradient (e.g. l0).
        """
        raise NotImplementedError(
            f"penalty '{self.name}' has no subgradient; use its prox (e.g. a proximal or "
            "splitting training term) instead"
        )


def work_tensor(x: Tensor) -> Tensor:
    """Return ``x`` in a dtype fit for the closed forms (float16/bfloat16 are upcast to float32).

    Raises:
        ValueError: if ``x`` is not a floating point tensor.

    Example:
        >>> import torch
        >>> work_tensor(torch.zeros(2, dtype=torch.float16)).dtype
        torch.float32
    """
    if not isinstance(x, Tensor):
        raise ValueError(f"x: expected a torch.Tensor, got {type(x).__name__}")
    if not x.is_floating_point():
        raise ValueError(f"x: dtype {x.dtype} is not supported (allowed: floating point tensors)")
    return x.float() if x.dtype in _LOW_PRECISION else x


def as_step(step: Step, like: Tensor) -> Tensor:
    """Return ``step`` as a tensor on ``like``'s device and dtype (broadcastable to ``like``).

    A Python number must be finite and ``>= 0``; a tensor is trusted (checking it would force a
    device sync) and must broadcast against the tensor the penalty acts on.

    Raises:
        ValueError: for a negative, NaN or infinite Python number.

    Example:
        >>> import torch
        >>> as_step(0.5, torch.zeros(3, dtype=torch.float64))
        tensor(0.5000, dtype=torch.float64)
    """
    if isinstance(step, Tensor):
        return step.to(device=like.device, dtype=like.dtype)
    if isinstance(step, bool) or not isinstance(step, numbers.Real):
        raise ValueError(f"step: expected a number >= 0 or a tensor, got {step!r}")
    if not math.isfinite(step) or step < 0:
        raise ValueError(f"step: {step!r} is not allowed (allowed: a finite number >= 0)")
    return torch.tensor(float(step), device=like.device, dtype=like.dtype)


def tiny(x: Tensor) -> float:
    """Smallest positive normal number of ``x``'s dtype (a safe floor before divisions/powers).

    Example:
        >>> import torch
        >>> tiny(torch.zeros(1)) > 0
        True
    """
    return torch.finfo(x.dtype).tiny


def check_positive(field: str, value: float, *, above: float = 0.0, cls: str = "") -> float:
    """Validate a scalar constructor argument: finite and ``> above``; return it as float.

    Raises:
        ValueError: one line naming the field, the bad value and the allowed range.

    Example:
        >>> check_positive("a", 2, above=1.0)
        2.0
    """
    where = f"{cls}: " if cls else ""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{where}{field}={value!r} is not allowed (allowed: a number > {above:g})")
    if not math.isfinite(value) or value <= above:
        raise ValueError(f"{where}{field}={value!r} is not allowed (allowed: a number > {above:g})")
    return float(value)


def check_nonnegative(field: str, value: float, *, cls: str = "") -> float:
    """Validate a scalar weight: finite and ``>= 0``; return it as float.

    Raises:
        ValueError: one line naming the field, the bad value and the allowed range.

    Example:
        >>> check_nonnegative("elem_weight", 0)
        0.0
    """
    where = f"{cls}: " if cls else ""
    msg = f"{where}{field}={value!r} is not allowed (allowed: a finite number >= 0)"
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(msg)
    if not math.isfinite(value) or value < 0:
        raise ValueError(msg)
    return float(value)
