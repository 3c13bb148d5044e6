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
from collections.abc import Callable
from typing import Any


def lazy_exports(
    package: str, exports: dict[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """Build a module ``__getattr__`` and ``__dir__`` for ``package``.

    Args:
        package: the package's ``__name__``.
        exports: public name -> module that defines it (absolute name).

    Returns:
        ``(__getattr__, __dir__)`` to assign at the package's top level.
    """

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
