"""Building torch-pruning's dependency graph safely (flags restored, option-A check)."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import torch
import torch_pruning as tp
from torch import nn

from slimkit.errors import first_line
from slimkit.surgery.fourier import FOURIER_PRUNERS
from slimkit.surgery.selection import CUSTOM_PRUNERS

__all__ = [
    "SurgeryError",
    "build_graph",
    "check_prunable",
    "classifier_of",
    "module_names",
    "torch_pruning_errors",
]


def check_prunable(model: nn.Module) -> None:
    """Raise a one-line ``ValueError`` for models torch-pruning cannot see through.

    Option-A ResNets add zero-padded channels with ``F.pad`` in their shortcuts; torch-pruning would
    treat the pad as an element-wise op and couple the wrong channels.

    Args:
        model: The network.

    Raises:
        ValueError: If the model holds a :class:`slimkit.models.PadShortcut`.

    Example:
        >>> from slimkit.models import build_model
        >>> check_prunable(build_model("resnet8_tiny"))
    """
    from slimkit.models import PadShortcut

    for name, module in model.named_modules():
        if isinstance(module, PadShortcut):
            raise ValueError(
                f"model has an option-A (zero-padding) shortcut at {name!r} that channel surgery "
                "cannot see through; convert it first with slimkit.models.shortcut_a_to_b(model) "
                "(artifacts: handle.apply_edit('shortcut_a_to_b'))"
            )


def classifier_of(model: nn.Module) -> nn.Module | None:
    """The last registered ``nn.Linear`` (the classifier that surgery never narrows), or ``None``.

    Example:
        >>> from slimkit.models import build_model
        >>> classifier_of(build_model("resnet8_tiny")).out_features
        10
    """
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    return linears[-1] if linears else None


def module_names(model: nn.Module) -> dict[nn.Module, str]:
    """Map every submodule to its qualified name (the first one, for shared modules)."""
    names: dict[nn.Module, str] = {}
    for name, module in model.named_modules():
        names.setdefault(module, name)
    return names


def _channels_last_tensors(model: nn.Module) -> list[torch.Tensor]:
    # Strides, not is_contiguous(): a (C, C, 1, 1) weight in channels_last counts as contiguous
    # too, yet makes the conv output channels_last.
    return [
        t
        for t in (*model.parameters(), *model.buffers())
        if t.dim() == 4
        and t.is_contiguous(memory_format=torch.channels_last)
        and t.stride() != _row_major_strides(t.shape)
    ]


def _row_major_strides(shape: torch.Size) -> tuple[int, ...]:
    strides, step = [], 1
    for size in reversed(shape):
        strides.append(step)
        step *= size
    return tuple(reversed(strides))


@contextmanager
def _traced_state(model: nn.Module) -> Iterator[None]:
    # Tracing runs a forward in eval mode with autograd on, on contiguous weights: in
    # channels_last, global pooling records an AsStrided node that hides zero-preserving paths
    # and `x.view(n, -1)` fails. Every module's flag and every weight's layout is restored after.
    flags = [(m, m.training) for m in model.modules()]
    channels_last = _channels_last_tensors(model)
    for tensor in channels_last:
        tensor.data = tensor.data.clone(memory_format=torch.contiguous_format)
    try:
        with torch.enable_grad():
            yield
    finally:
        for module, flag in flags:
            module.train(flag)
        for tensor in channels_last:
            tensor.data = tensor.data.clone(memory_format=torch.channels_last)


def build_graph(model: nn.Module, example_input: torch.Tensor) -> tp.DependencyGraph:
    """Trace ``model`` on ``example_input`` into a torch-pruning ``DependencyGraph``.

    The forward runs in eval mode (BN running statistics are untouched); each module's
    train/eval flag is restored afterwards.

    Args:
        model: The network (not modified).
        example_input: A batch the model accepts, e.g. ``torch.randn(2, 3, 32, 32)``.

    Returns:
        The dependency graph.

    Raises:
        ValueError: For an option-A ResNet (see :func:`check_prunable`).

    Example:
        >>> import torch
        >>> from slimkit.models import build_model
        >>> model = build_model("resnet8_tiny")
        >>> graph = build_graph(model, torch.randn(2, 3, 32, 32))
        >>> model.conv1 in graph.module2node
        True
    """
    check_prunable(model)
    if not isinstance(example_input, torch.Tensor):
        raise ValueError(
            f"example_input is {type(example_input).__name__}; give a tensor batch, "
            "e.g. torch.randn(2, 3, 32, 32)"
        )
    device = next((p.device for p in model.parameters()), example_input.device)
    with (
        _traced_state(model),
        torch_pruning_errors(f"tracing {type(model).__name__}"),
        time_budget(GROUPING_SECONDS, f"torch-pruning's tracing of {type(model).__name__}"),
    ):
        return tp.DependencyGraph().build_dependency(
            model,
            example_inputs=example_input.to(device).contiguous(),
            customized_pruners={**CUSTOM_PRUNERS, **FOURIER_PRUNERS},
            verbose=False,
        )


@contextmanager
def time_budget(seconds: float, what: str) -> Iterator[None]:
    """Raise a one-line :class:`SurgeryError` when the block runs longer than ``seconds``
    (wall clock, via ``SIGALRM``; only in the main thread of the main interpreter, elsewhere the
    block runs unbounded).

    Example:
        >>> import time
        >>> with time_budget(0.05, "a slow step"):
        ...     time.sleep(1)
        Traceback (most recent call last):
        slimkit.surgery.graph.SurgeryError: a slow step took over 0.05 s; channel surgery gives up on this model (slimkit.surgery.graph.GROUPING_SECONDS)
    """
    if threading.current_thread() is not threading.main_thread() or not hasattr(
        signal, "setitimer"
    ):
        yield
        return

    def expire(signum: int, frame: Any) -> None:
        raise _BudgetExpired

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    except _BudgetExpired:
        raise SurgeryError(
            f"{what} took over {seconds:g} s; channel surgery gives up on this model "
            "(slimkit.surgery.graph.GROUPING_SECONDS)"
        ) from None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


class _BudgetExpired(BaseException):
    """Raised by the alarm; a BaseException so that no library ``except Exception`` eats it."""


@contextmanager
def torch_pruning_errors(what: str) -> Iterator[None]:
    """Turn any exception torch-pruning raises while doing ``what`` (e.g. ``"pruning
    'layer1.0.conv1'"``) into a one-line :class:`SurgeryError` naming it.

    Example:
        >>> with torch_pruning_errors("pruning 'fc'"):
        ...     1 // 0
        Traceback (most recent call last):
        slimkit.surgery.graph.SurgeryError: torch-pruning failed while pruning 'fc' (ZeroDivisionError: integer division or modulo by zero); this model cannot be channel-pruned there
    """
    try:
        yield
    except (SurgeryError, TimeoutError):
        raise
    except Exception as exc:  # noqa: BLE001  (any library failure becomes one line)
        raise SurgeryError(
            f"torch-pruning failed while {what} ({type(exc).__name__}: {first_line(exc, 200)}); "
            "this model cannot be channel-pruned there"
        ) from None


class SurgeryError(ValueError):
    """Channel surgery cannot handle this model (one-line message)."""


_ROOTS = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear)
# Wall-clock budget of tracing and of the group search: torch-pruning's index mappings grow with
# the tensor sizes of attention blocks (MaxViT, Swin), where one model takes many minutes and
# tens of GB.
GROUPING_SECONDS = 60.0


def out_channel_groups(
    model: nn.Module, example_input: torch.Tensor, ignored: Sequence[nn.Module] = ()
) -> tuple[tp.DependencyGraph, dict[nn.Module, str], list[Any]]:
    """torch-pruning groups rooted at conv/linear out-channels (the classifier excluded), with
    the dependency graph and module names; shared by the BN-channel and the filter groups."""
    check_prunable(model)
    graph = build_graph(model, example_input)
    skip = list(ignored)
    classifier = classifier_of(model)
    if classifier is not None:
        skip.append(classifier)
    name = type(model).__name__
    with (
        torch_pruning_errors(f"grouping the channels of {name}"),
        time_budget(GROUPING_SECONDS, f"torch-pruning's dependency analysis of {name}"),
    ):
        groups = list(graph.get_all_groups(ignored_layers=skip, root_module_types=_ROOTS))
    return graph, module_names(model), groups
