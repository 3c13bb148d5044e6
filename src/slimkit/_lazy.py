"""PEP 562 lazy re-exports: a package lists ``{name: submodule}`` and imports on first access.

A package ``__init__`` that imported its heavy submodules eagerly made ``import
slimkit.models.config`` import torch. With :func:`lazy_exports` the package stays light and
``from slimkit.models import build_model`` still works: the submodule is imported when the name is
first read, then cached in the package namespace.

Example:
    >>> getattr_, dir_ = lazy_exports("demo_pkg", {"join": "os.path", "sqrt": "math"})
    >>> getattr_("sqrt")(9.0)
    3.0
    >>> "join" in dir_()
    True
"""

from __future__ import annotations

import importlib
import sys
import types
from collections.abc import Callable
from typing import Any


class _LazyPackage(types.ModuleType):
    """A package whose exported names win over same-named submodules.

    ``slimkit.engine.evaluate`` is both a submodule and the function it defines. Importing the
    submodule makes the import system set the package attribute ``evaluate`` to the *module*; an
    eager ``__init__`` rebound it to the function right after, a lazy one must refuse the module.
    """

    _lazy_names: frozenset[str] = frozenset()

    def __setattr__(self, name: str, value: Any) -> None:
        if (
            name in self._lazy_names
            and isinstance(value, types.ModuleType)
            and value.__name__ == f"{self.__name__}.{name}"
        ):
            return  # keep resolving the exported object, not the submodule of the same name
        super().__setattr__(name, value)


def lazy_exports(
    package: str, exports: dict[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """Build a module ``__getattr__`` and ``__dir__`` for ``package``.

    Args:
        package: the package's ``__name__`` (it must be in ``sys.modules``, as it is while its
            ``__init__`` runs).
        exports: public name -> module that defines it (absolute name).

    Returns:
        ``(__getattr__, __dir__)`` to assign at the package's top level.
    """
    pkg_module = sys.modules.get(package)
    if pkg_module is not None and type(pkg_module) is types.ModuleType:
        pkg_module.__class__ = _LazyPackage
        object.__setattr__(pkg_module, "_lazy_names", frozenset(exports))

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        pkg = sys.modules.get(package)
        if pkg is not None:
            setattr(pkg, name, value)
        return value

    def __dir__() -> list[str]:
        pkg = sys.modules.get(package)
        own = list(vars(pkg)) if pkg is not None else []
        return sorted(set(own) | set(exports))

    return __getattr__, __dir__
