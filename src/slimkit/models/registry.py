"""Model registry: names -> builder functions, plus the ``tv:`` / ``timm:`` adapters.

A recipe names a model by string. :func:`build_model` resolves it:

- a zoo name registered with :func:`register_model` (``resnet20``, ``vgg19``, ...);
- ``tv:NAME``: a torchvision classification model, built with ``weights=None``;
- ``timm:NAME``: a timm model, built with ``pretrained=False``.

Nothing is ever downloaded.
"""

from __future__ import annotations

import difflib
import inspect
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from slimkit.errors import first_line
from slimkit.registry import MODELS

if TYPE_CHECKING:
    from torch import nn

__all__ = ["UnknownModelError", "build_model", "list_models", "register_model"]

Builder = Callable[..., "nn.Module"]
_REGISTRY = MODELS  # the central registry (kept under its old name for callers and tests)

_HINT = "(run `slimkit models`)"


class UnknownModelError(ValueError):
    """Raised when a model name is not registered (or not known to torchvision/timm).

    Example:
        >>> from slimkit.models import UnknownModelError, build_model
        >>> try:
        ...     build_model("resnt20")
        ... except UnknownModelError as err:
        ...     print(err)
        unknown model 'resnt20'; did you mean 'resnet20'? (run `slimkit models`)
    """


def register_model(name: str, description: str = "") -> Callable[[Builder], Builder]:
    """Decorator that registers a builder function under ``name``.

    The builder must accept ``num_classes`` and ``in_channels`` keyword arguments.

    Args:
        name: Registry name (no ``:``; prefixes are reserved for ``tv:`` and ``timm:``).
        description: One-line description shown by ``slimkit models``.

    Returns:
        The decorator; it returns the builder unchanged.

    Raises:
        ValueError: If the name is empty, contains ``:`` or is already registered.

    Example:
        >>> from torch import nn
        >>> from slimkit.models import build_model, register_model
        >>> @register_model("doc_linear_demo", "a linear probe for the docs")
        ... def _demo(num_classes: int = 10, in_channels: int = 3) -> nn.Module:
        ...     return nn.Sequential(nn.Flatten(), nn.Linear(in_channels * 32 * 32, num_classes))
        >>> build_model("doc_linear_demo", num_classes=4)[1].out_features
        4
    """
    if not name or ":" in name:
        raise ValueError(f"model name {name!r} is invalid; use a non-empty name without ':'")

    def decorator(builder: Builder) -> Builder:
        try:  # a builder module declared in slimkit.builtins may still register itself here
            MODELS.register(name, description=description)(builder)
        except ValueError:
            raise ValueError(f"model name {name!r} is already registered") from None
        return builder

    return decorator


def list_models() -> dict[str, str]:
    """Registered zoo models and their one-line descriptions.

    The ``tv:NAME`` and ``timm:NAME`` prefixes are accepted by :func:`build_model` as well but are
    not listed here.

    Returns:
        Mapping of registered name -> description, in registration order (the built-in catalog
        first, :mod:`slimkit.builtins`); imports no model code.

    Example:
        >>> from slimkit.models import list_models
        >>> "resnet20" in list_models()
        True
    """
    return {name: MODELS.meta(name).get("description", "") for name in MODELS.ordered()}


def build_model(name: str, num_classes: int = 10, in_channels: int = 3, **kwargs: Any) -> nn.Module:
    """Build a model by name.

    Args:
        name: A zoo name (see :func:`list_models`), ``tv:NAME`` (torchvision) or ``timm:NAME``.
        num_classes: Size of the classifier output.
        in_channels: Number of input image channels.
        **kwargs: Extra constructor arguments for the builder (e.g. ``shortcut="A"``).

    Returns:
        A freshly initialised ``nn.Module`` (never pretrained).

    Raises:
        UnknownModelError: If the name is unknown; the message suggests the nearest name.
        ValueError: If an argument is not accepted by the builder.

    Example:
        >>> import torch
        >>> from slimkit.models import build_model
        >>> model = build_model("resnet8_tiny", num_classes=5)
        >>> model(torch.randn(2, 3, 32, 32)).shape
        torch.Size([2, 5])
    """
    if not isinstance(name, str) or not name:
        raise UnknownModelError(f"unknown model {name!r}; give a model name {_HINT}")
    prefix, sep, rest = name.partition(":")
    if sep:
        from slimkit.models.external import build_timm, build_torchvision

        adapters: dict[str, Callable[..., nn.Module]] = {
            "tv": build_torchvision,
            "timm": build_timm,
        }
        if prefix not in adapters:
            raise UnknownModelError(
                f"unknown model prefix {prefix!r} in {name!r}; allowed prefixes: tv:, timm: {_HINT}"
            )
        return adapters[prefix](rest, num_classes=num_classes, in_channels=in_channels, **kwargs)

    if name not in MODELS:
        raise UnknownModelError(unknown_name_message(name, MODELS.ordered()))
    return call_builder(
        name, MODELS.get(name), num_classes=num_classes, in_channels=in_channels, **kwargs
    )


def unknown_name_message(name: str, known: list[str], prefix: str = "") -> str:
    """One-line "unknown model" message with the nearest known name, if any.

    Args:
        name: The name the user gave (without prefix).
        known: Valid names to suggest from.
        prefix: Prefix to put in front of names in the message (``"tv:"``, ``"timm:"``).

    Returns:
        The message.

    Example:
        >>> unknown_name_message("resnt20", ["resnet20", "vgg19"])
        "unknown model 'resnt20'; did you mean 'resnet20'? (run `slimkit models`)"
    """
    matches = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    if not matches:
        lowered = {k.lower(): k for k in known}
        matches = [lowered[m] for m in difflib.get_close_matches(name.lower(), list(lowered), n=1)]
    if matches:
        return f"unknown model '{prefix}{name}'; did you mean '{prefix}{matches[0]}'? {_HINT}"
    return f"unknown model '{prefix}{name}'; no similar name found {_HINT}"


_BAD_KWARG = re.compile(r"unexpected keyword argument '(\w+)'")
_FIXED_KWARG = re.compile(r"multiple values for (?:keyword )?argument '(\w+)'")
_SIGNATURE_ERRORS = ("unexpected keyword argument", "multiple values for", "required positional")


def call_builder(model_name: str, builder: Callable[..., nn.Module], /, **kwargs: Any) -> nn.Module:
    """Call ``builder(**kwargs)`` with one-line, model-named errors.

    A call-signature ``TypeError`` (unexpected or duplicated keyword) becomes a ``ValueError``
    naming the model and the argument; a ``ValueError`` from the builder gets the model name
    prefixed. Other exceptions pass through unchanged.

    Args:
        model_name: Name used in the error message.
        builder: The builder function (or class).
        **kwargs: Arguments forwarded to the builder.

    Returns:
        The built model.

    Raises:
        ValueError: If the builder rejects an argument or its value.

    Example:
        >>> from torch import nn
        >>> call_builder("lin", nn.Linear, in_features=2, out_features=3).out_features
        3
    """
    try:
        return builder(**kwargs)
    except ValueError as err:
        raise ValueError(f"model {model_name!r}: {first_line(err)}") from err
    except TypeError as err:
        text = first_line(err)
        if not any(marker in text for marker in _SIGNATURE_ERRORS):
            raise
        fixed = _FIXED_KWARG.search(text)
        if fixed is not None:
            raise ValueError(
                f"model {model_name!r} fixes argument {fixed.group(1)!r}; it cannot be passed"
            ) from err
        match = _BAD_KWARG.search(text)
        if match is None:
            raise ValueError(f"model {model_name!r}: bad arguments ({text})") from err
        bad = match.group(1)
        allowed = sorted(accepted_kwargs(builder))
        hint = ""
        close = difflib.get_close_matches(bad, allowed, n=1)
        if close:
            hint = f"; did you mean {close[0]!r}?"
        listing = f"; allowed: {', '.join(allowed)}" if allowed else ""
        raise ValueError(
            f"model {model_name!r} got unexpected argument {bad!r}{hint}{listing}"
        ) from err


def accepted_kwargs(fn: Callable[..., Any]) -> set[str]:
    """Keyword names a builder accepts, following ``__wrapped_model__`` for ``**kwargs`` builders.

    Zoo builders that forward ``**kwargs`` to a model class set ``fn.__wrapped_model__`` to that
    class (see :func:`forwards_to`), so error messages can list the real constructor arguments.

    Args:
        fn: Builder function or class.

    Returns:
        Set of accepted keyword names; empty when they cannot be determined (an open ``**kwargs``).

    Example:
        >>> from torch import nn
        >>> sorted(accepted_kwargs(nn.Linear))[:2]
        ['bias', 'device']
    """
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return set()
    names = {
        p.name
        for p in params.values()
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name != "self"
    }
    if any(p.kind == p.VAR_KEYWORD for p in params.values()):
        target = getattr(fn, "__wrapped_model__", None)
        if target is None:
            return set()  # open-ended (e.g. timm.create_model): cannot list
        inner = accepted_kwargs(target)
        if not inner:
            return set()
        names |= inner
    return names


def forwards_to(target: Callable[..., Any]) -> Callable[[Builder], Builder]:
    """Mark a ``**kwargs`` builder as forwarding to ``target`` (for argument error messages).

    Args:
        target: The class or function receiving the builder's ``**kwargs``.

    Returns:
        Decorator returning the builder unchanged (with ``__wrapped_model__`` set).

    Example:
        >>> from torch import nn
        >>> @forwards_to(nn.Linear)
        ... def make(**kwargs):
        ...     return nn.Linear(**kwargs)
        >>> "out_features" in accepted_kwargs(make)
        True
    """

    def decorator(builder: Builder) -> Builder:
        builder.__wrapped_model__ = target  # type: ignore[attr-defined]
        return builder

    return decorator
