"""A small name -> object registry with did-you-mean errors.

Used wherever a recipe names a thing by string (stages, training terms, structural edits).

Example:
    >>> from slimkit.registry import Registry
    >>> colors = Registry("color")
    >>> @colors.register("red")
    ... def red():
    ...     return "#f00"
    >>> colors.get("red")()
    '#f00'
    >>> try:
    ...     colors.get("rde")
    ... except ValueError as e:
    ...     print(e)
    unknown color 'rde'; did you mean 'red'? (allowed: red)
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

T = TypeVar("T")


def suggest(name: str, choices: list[str]) -> str:
    """Return "; did you mean 'x'?" for the nearest choice, or "" when none is close.

    Example:
        >>> suggest("epoch", ["epochs", "optimizer"])
        "; did you mean 'epochs'?"
    """
    close = difflib.get_close_matches(name, choices, n=1, cutoff=0.5)
    return f"; did you mean '{close[0]}'?" if close else ""


class Registry(Generic[T]):
    """Maps names to objects; unknown names raise a one-line ``ValueError`` with a suggestion."""

    def __init__(self, what: str) -> None:
        self.what = what
        self._items: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator registering ``obj`` under ``name`` (a second registration is an error)."""

        def deco(obj: T) -> T:
            if name in self._items:
                raise ValueError(f"{self.what} '{name}' is registered twice")
            self._items[name] = obj
            return obj

        return deco

    def get(self, name: str) -> T:
        """Return the object registered under ``name``."""
        if name not in self._items:
            names = sorted(self._items)
            raise ValueError(
                f"unknown {self.what} '{name}'{suggest(name, names)} (allowed: {', '.join(names)})"
            )
        return self._items[name]

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._items))

    def names(self) -> list[str]:
        """Sorted registered names."""
        return sorted(self._items)
