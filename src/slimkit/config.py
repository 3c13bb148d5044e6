"""Strict configuration models: unknown keys are errors that name the nearest valid key.

Every recipe section is a :class:`Config` (a pydantic model with ``extra="forbid"``). Fields whose
items are chosen by name from a registry (stages by ``kind``, training terms by ``name``) are
declared in the class attribute ``dispatch``; :func:`validate_config` resolves them, so a new stage
or term only registers its own config class.

Example:
    >>> class Opt(Config):
    ...     lr: float = 0.1
    >>> validate_config(Opt, {"lr": 0.5}).lr
    0.5
    >>> try:
    ...     validate_config(Opt, {"rl": 0.5}, "optimizer")
    ... except ConfigError as e:
    ...     print(e)
    optimizer: unknown key 'rl'; did you mean 'lr'? (allowed: lr)
"""

from __future__ import annotations

import types
import typing
from typing import Any, ClassVar, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, ValidationError

from slimkit.registry import Registry, suggest


class ConfigError(ValueError):
    """A recipe or configuration mistake; the message is one line naming the field."""


class Config(BaseModel):
    """Base class of every recipe section: strict keys, validated assignment."""

    # no NaN or infinity in any float field: no setting of a recipe means "infinitely many"
    model_config = ConfigDict(
        extra="forbid", validate_assignment=True, protected_namespaces=(), allow_inf_nan=False
    )
    # field name -> (registry of entries with a ``config`` attribute, discriminating key)
    dispatch: ClassVar[dict[str, tuple[Registry[Any], str]]] = {}


def short_repr(value: Any, limit: int = 80) -> str:
    """``repr(value)`` cut to ``limit`` characters (error messages stay one short line)."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else str(key)


def _config_class(annotation: Any) -> tuple[type[Config] | None, bool]:
    """(Config subclass inside ``annotation``, whether it is a list of them)."""
    origin = get_origin(annotation)
    if origin in (Union, types.UnionType):
        for arg in get_args(annotation):
            cls, is_list = _config_class(arg)
            if cls is not None:
                return cls, is_list
        return None, False
    if origin is list:
        args = get_args(annotation)
        cls, _ = _config_class(args[0]) if args else (None, False)
        return cls, cls is not None
    if origin is typing.Annotated:
        return _config_class(get_args(annotation)[0])
    if isinstance(annotation, type) and issubclass(annotation, Config):
        return annotation, False
    return None, False


def validate_config(cls: type[Config], data: Any, path: str = "") -> Config:
    """Validate ``data`` (a mapping) as ``cls`` with strict keys and one-line errors.

    Args:
        cls: the :class:`Config` subclass.
        data: the raw mapping (e.g. from YAML); ``None`` means all defaults.
        path: where ``data`` sits in the recipe, used in error messages.

    Returns:
        The validated config object.

    Raises:
        ConfigError: one line naming the field, the bad value and what is allowed.
    """
    where = path or cls.__name__
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"{where}: expected a mapping, got {type(data).__name__} {short_repr(data)}"
        )
    allowed = list(cls.model_fields)
    for key in data:
        if key not in allowed:
            raise ConfigError(
                f"{where}: unknown key {short_repr(key, 40)}{suggest(str(key), allowed)} "
                f"(allowed: {', '.join(allowed)})"
            )
    values = dict(data)
    for name, field in cls.model_fields.items():
        if name not in values or values[name] is None:
            continue
        sub_path = _join(path, name)
        if name in cls.dispatch:
            registry, key = cls.dispatch[name]
            _, is_list = _config_class(field.annotation)
            if is_list:
                values[name] = [
                    _validate_dispatched(registry, key, item, _join(sub_path, i))
                    for i, item in enumerate(_as_list(values[name], sub_path))
                ]
            else:  # one item chosen by name (e.g. the recipe's ``task``)
                values[name] = _validate_dispatched(registry, key, values[name], sub_path)
            continue
        sub_cls, is_list = _config_class(field.annotation)
        if sub_cls is None:
            continue
        if is_list:
            values[name] = [
                validate_config(sub_cls, item, _join(sub_path, i))
                for i, item in enumerate(_as_list(values[name], sub_path))
            ]
        else:
            values[name] = validate_config(sub_cls, values[name], sub_path)
    try:
        return cls.model_validate(values)
    except ValidationError as exc:
        raise ConfigError(_one_line(exc, path)) from None


def _as_list(value: Any, path: str) -> list[Any]:
    if not isinstance(value, list):
        raise ConfigError(
            f"{path}: expected a list, got {type(value).__name__} {short_repr(value)}"
        )
    return value


def _validate_dispatched(registry: Registry[Any], key: str, item: Any, path: str) -> Config:
    if not isinstance(item, dict) or key not in item:
        raise ConfigError(f"{path}: expected a mapping with a '{key}' key, got {short_repr(item)}")
    try:
        entry = registry.get(str(item[key]))
    except ValueError as exc:
        raise ConfigError(f"{path}.{key}: {exc}") from None
    return validate_config(entry.config, item, path)


def _one_line(exc: ValidationError, path: str) -> str:
    err = exc.errors()[0]
    where = path
    for part in err["loc"]:
        where = _join(where, part)
    msg = err["msg"].removeprefix("Value error, ")
    more = f" (+{exc.error_count() - 1} more errors)" if exc.error_count() > 1 else ""
    if not err["loc"]:  # a check across fields: the input is the whole section
        return f"{where or 'recipe'}: {msg}{more}"
    return f"{where or 'recipe'}: {msg}, got {short_repr(err.get('input'))}{more}"
