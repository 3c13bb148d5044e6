"""The one registry module: names -> objects for everything a recipe names by string.

Registries (all defined here, all torch-free):

=========  ===============================  =====================================================
registry   entry                            parts
=========  ===============================  =====================================================
MODELS     model builder                    the builder; meta ``description``
DATASETS   dataset builder                  the builder; meta ``description``
PENALTIES  penalty class or factory         the constructor; meta ``kind``, ``subgradient``, ...
EDITS      structural edit                  ``fn(module, **params) -> module``
STAGES     recipe stage (``kind``)          ``config`` (light) and ``run`` (heavy)
TERMS      training term (``name``)         ``config`` (light) and ``build`` (heavy)
TASKS      task (``name``)                  ``config`` (light) and ``build`` (heavy)
=========  ===============================  =====================================================

An entry is either an object registered eagerly (``@REG.register(name)``) or a *lazy* declaration
``REG.declare(name, "package.module:attr")``: the string is imported on the first
:meth:`Registry.get` and cached, so listing names, ``in`` and validating a recipe import nothing
heavy. Entries of STAGES, TERMS and TASKS are :class:`Spec` objects with two references, e.g.
``STAGES.declare("train", config="slimkit.stages.config:TrainStageConfig",
run="slimkit.stages.train:run_train")``: ``STAGES.get("train").config`` imports only the light
config module, ``.run`` imports the training loop.

Where the built-in entries come from: the catalog :mod:`slimkit.builtins` (declarations only,
strings). It is imported by :meth:`Registry._ensure_builtins` on the first lookup, inside the
function, not at the top of this module: ``slimkit.builtins`` imports this module, so a top-level
import here would be an import cycle, and keeping the catalog in its own file keeps this module a
small generic mechanism with one readable list of what ships.

Third-party plugins: on the first lookup miss or listing, every entry point of the group
``slimkit.plugins`` is loaded (:func:`load_plugins`); an entry point is a module (importing it
registers things) or a callable taking no arguments (calling it registers things). So a package can
add a term or a model without editing slimkit::

    # pyproject.toml of the plugin
    [project.entry-points."slimkit.plugins"]
    mine = "my_package.slimkit_plugin"

Example:
    >>> from slimkit.registry import Registry
    >>> colors = Registry("color")
    >>> @colors.register("red")
    ... def red():
    ...     return "#f00"
    >>> colors.declare("sep", "os:sep", description="the path separator")
    >>> colors.names(), colors.meta("sep")["description"]
    (['red', 'sep'], 'the path separator')
    >>> colors.get("red")(), len(colors.get("sep"))
    ('#f00', 1)
    >>> try:
    ...     colors.get("rde")
    ... except ValueError as e:
    ...     print(e)
    unknown color 'rde'; did you mean 'red'? (allowed: red, sep)
"""

from __future__ import annotations

import difflib
import importlib
import sys
import threading
import types
import warnings
from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

from slimkit.errors import first_line

__all__ = [
    "DATASETS",
    "EDITS",
    "MODELS",
    "PENALTIES",
    "PLUGIN_GROUP",
    "STAGES",
    "TASKS",
    "TERMS",
    "Registry",
    "Spec",
    "load_plugins",
    "resolve",
    "suggest",
]

T = TypeVar("T")

PLUGIN_GROUP = "slimkit.plugins"


def suggest(name: str, choices: list[str]) -> str:
    """Return "; did you mean 'x'?" for the nearest choice, or "" when none is close.

    Example:
        >>> suggest("epoch", ["epochs", "optimizer"])
        "; did you mean 'epochs'?"
    """
    close = difflib.get_close_matches(name, choices, n=1, cutoff=0.5)
    return f"; did you mean '{close[0]}'?" if close else ""


def resolve(ref: str) -> Any:
    """Import ``"package.module:attr"`` (``attr`` may be dotted) and return the attribute.

    Raises:
        ImportError: one line naming the reference when the module or attribute is missing.

    Example:
        >>> resolve("os.path:join") is __import__("os").path.join
        True
    """
    module_name, sep, attr = ref.partition(":")
    if not sep or not module_name or not attr:
        raise ValueError(f"reference {ref!r} is invalid; expected 'package.module:attr'")
    try:
        obj: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise ImportError(f"cannot import {ref!r}: {exc}") from exc
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise ImportError(f"cannot import {ref!r}: no attribute {part!r}") from None
    return obj


def _matches(ref: str, obj: Any) -> bool:
    """Whether ``obj`` is what ``ref`` names: the attribute itself, or an object defined in the
    referenced module while that module is still importing (a builder module that registers itself
    with a decorator as it is imported through its declaration)."""
    module_name, _, attr = ref.partition(":")
    if getattr(obj, "__module__", None) != module_name:
        return False
    module = sys.modules.get(module_name)
    target: Any = module
    for part in attr.split("."):
        target = getattr(target, part, _MISSING)
        if target is _MISSING:
            return True  # not bound yet: the module is being imported right now
    return target is obj


_MISSING = object()


def _same(declared: Any, new: Any) -> bool:
    """Whether two registrations of one name agree (the same object or reference, or an object
    and the reference that names it)."""
    if declared is new or (isinstance(declared, str) and declared == new):
        return True
    if isinstance(declared, str) and not isinstance(new, str):
        return _matches(declared, new)
    if isinstance(new, str) and not isinstance(declared, str):
        return _matches(new, declared)
    return False


class Spec:
    """A registry entry made of several named parts, each imported on first access.

    Parts given as ``"package.module:attr"`` strings are resolved and cached on attribute access;
    other keyword arguments are plain metadata, readable without importing anything.

    Example:
        >>> spec = Spec("demo", {"config": "fractions:Fraction", "run": "math:sqrt"}, {"x": 1})
        >>> spec.config(1, 2), spec.x, spec.refs()["run"]
        (Fraction(1, 2), 1, 'math:sqrt')
    """

    __slots__ = ("_meta", "_parts", "name")

    def __init__(self, name: str, parts: dict[str, Any], meta: dict[str, Any] | None = None):
        self.name = name
        self._parts = dict(parts)
        self._meta = dict(meta or {})

    def __getattr__(self, attr: str) -> Any:
        parts = object.__getattribute__(self, "_parts")
        if attr in parts:
            value = parts[attr]
            if isinstance(value, str):
                value = parts[attr] = resolve(value)
            return value
        meta = object.__getattribute__(self, "_meta")
        if attr in meta:
            return meta[attr]
        raise AttributeError(f"{type(self).__name__} {self.name!r} has no part {attr!r}")

    def refs(self) -> dict[str, str]:
        """The parts as ``"module:attr"`` strings (``module:qualname`` for resolved objects)."""
        return {
            k: v if isinstance(v, str) else f"{v.__module__}:{v.__qualname__}"
            for k, v in self._parts.items()
        }

    @property
    def meta(self) -> dict[str, Any]:
        """The metadata given at declaration (a copy)."""
        return dict(self._meta)

    def __repr__(self) -> str:
        return f"Spec({self.name!r}, {self.refs()})"


class Registry(Generic[T]):
    """Maps names to objects, lazily imported; unknown names raise a one-line ``ValueError``.

    Args:
        what: what an entry is, for messages (``"stage kind"``).
        parts: for multi-part entries (stages, terms, tasks), the names of the parts; ``get``
            then returns a :class:`Spec`. ``None``: an entry is one object.
        catalog: load slimkit's built-in catalog and the ``slimkit.plugins`` entry points on
            first use (the module-level registries); ``False`` for a standalone registry.
    """

    def __init__(
        self, what: str, *, parts: tuple[str, ...] | None = None, catalog: bool = False
    ) -> None:
        self.what = what
        self.parts = parts
        self.catalog = catalog
        self._items: dict[str, Any] = {}  # name -> object, "module:attr" string or Spec
        self._meta: dict[str, dict[str, Any]] = {}

    # -- registration -------------------------------------------------------------------------

    def declare(self, name: str, ref: Any = None, /, **kwargs: Any) -> None:
        """Add an entry under ``name`` without importing it.

        For a one-part registry, ``ref`` is ``"package.module:attr"`` (or the object itself) and
        every keyword is metadata. For a multi-part registry, the keywords named in ``parts`` are
        the references and the others metadata. Declaring the same name again with the same
        references (or with an object defined in the referenced module) only merges metadata.

        Raises:
            ValueError: when ``name`` is already bound to something else, or a part is missing.
        """
        if self.parts is None:
            if ref is None:
                raise ValueError(f"{self.what} '{name}': give a 'module:attr' reference")
            self._add(name, ref, kwargs)
            return
        if ref is not None:
            raise ValueError(f"{self.what} '{name}': give the parts {self.parts} by keyword")
        missing = [p for p in self.parts if p not in kwargs]
        if missing:
            raise ValueError(f"{self.what} '{name}': missing part '{missing[0]}'")
        parts = {p: kwargs.pop(p) for p in self.parts}
        self._add(name, Spec(name, parts, kwargs), kwargs)

    def register(self, name: str, **meta: Any) -> Callable[[T], T]:
        """Decorator registering an object eagerly under ``name``; returns it unchanged."""

        def deco(obj: T) -> T:
            if self.parts is not None:
                raise TypeError(f"{self.what} entries have parts {self.parts}; use declare()")
            self._add(name, obj, meta)
            return obj

        return deco

    def _add(self, name: str, value: Any, meta: dict[str, Any]) -> None:
        if not isinstance(name, str) or not name:
            raise ValueError(f"{self.what} name {name!r} is invalid; use a non-empty string")
        self._ensure_builtins()  # a clash with a built-in name fails here, not on a later lookup
        old = self._items.get(name)
        if old is not None:
            if isinstance(old, Spec) and isinstance(value, Spec):
                agree = all(_same(old._parts[p], value._parts[p]) for p in old._parts)
                if agree:  # keep resolved objects, fill in the ones the newcomer resolved
                    for p, v in value._parts.items():
                        if isinstance(old._parts[p], str) and not isinstance(v, str):
                            old._parts[p] = v
                    old._meta.update(value._meta)
            else:
                agree = _same(old, value)
                if agree and isinstance(old, str) and not isinstance(value, str):
                    self._items[name] = value
            if not agree:
                raise ValueError(f"{self.what} '{name}' is registered twice")
            self._meta[name] = {**self._meta.get(name, {}), **meta}
            return
        self._items[name] = value
        self._meta[name] = dict(meta)

    def __delitem__(self, name: str) -> None:
        del self._items[name]
        self._meta.pop(name, None)

    def pop(self, name: str, default: Any = None) -> Any:
        """Remove ``name`` and return its entry (``default`` when absent), e.g. in test cleanup."""
        self._meta.pop(name, None)
        return self._items.pop(name, default)

    # -- lookup -------------------------------------------------------------------------------

    def _ensure_builtins(self) -> None:
        if self.catalog and not _state.builtins_loaded:
            _load_builtins()

    def get(self, name: str) -> T:
        """Return the object (or :class:`Spec`) registered under ``name``, importing it if lazy.

        Raises:
            ValueError: one line for an unknown name, with the nearest valid name.
            ImportError: a lazy entry whose module cannot be imported (names the reference).
        """
        self._ensure_builtins()
        if name not in self._items and self.catalog:
            load_plugins()
        if name not in self._items:
            names = self.names()
            raise ValueError(
                f"unknown {self.what} '{name}'{suggest(str(name), names)} "
                f"(allowed: {', '.join(names)})"
            )
        value = self._items[name]
        if isinstance(value, str):
            obj = resolve(value)
            current = self._items.get(name)  # importing may have registered it eagerly
            value = self._items[name] = current if not isinstance(current, str) else obj
        return value

    def meta(self, name: str) -> dict[str, Any]:
        """Metadata declared with ``name`` (imports nothing; ``{}`` when none)."""
        self._ensure_builtins()
        if name not in self._items and self.catalog:
            load_plugins()
        return dict(self._meta.get(name, {}))

    def ref(self, name: str) -> str | None:
        """The ``"module:attr"`` string of a lazy one-part entry (``None`` once resolved)."""
        self._ensure_builtins()
        value = self._items.get(name)
        return value if isinstance(value, str) else None

    def __contains__(self, name: object) -> bool:
        self._ensure_builtins()
        if name not in self._items and self.catalog:
            load_plugins()
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self.names())

    def names(self) -> list[str]:
        """Sorted names, built-in, registered and from plugins (imports no implementation)."""
        return sorted(self.ordered())

    def ordered(self) -> list[str]:
        """Names in declaration order (the catalog's order, then later registrations)."""
        self._ensure_builtins()
        if self.catalog:
            load_plugins()
        return list(self._items)

    def __repr__(self) -> str:
        return f"Registry({self.what!r}, {len(self._items)} entries)"


# -- the built-in catalog and plugins -----------------------------------------------------------


class _State:
    builtins_loaded = False
    plugins_loaded = False
    lock = threading.RLock()


_state = _State()


def _load_builtins() -> None:
    with _state.lock:
        if _state.builtins_loaded:
            return
        _state.builtins_loaded = True  # set first: the catalog's declare() calls look things up
        try:
            importlib.import_module("slimkit.builtins")
        except BaseException:
            _state.builtins_loaded = False
            raise


def load_plugins(*, force: bool = False) -> list[str]:
    """Load the ``slimkit.plugins`` entry points once (again with ``force=True``).

    Each entry point is a module (importing it registers things) or a callable taking no
    arguments (calling it registers things). A plugin that fails to load is skipped with a
    one-line warning naming it.

    Returns:
        The names of the entry points loaded by this call (``[]`` when already loaded).

    Example:
        >>> isinstance(load_plugins(), list)
        True
    """
    with _state.lock:
        if _state.plugins_loaded and not force:
            return []
        _state.plugins_loaded = True
        _load_builtins()
        from importlib.metadata import entry_points

        loaded = []
        for ep in entry_points(group=PLUGIN_GROUP):
            try:
                obj = ep.load()
                if not isinstance(obj, types.ModuleType):
                    obj()
            except Exception as exc:  # noqa: BLE001  (a broken plugin must not break slimkit)
                warnings.warn(
                    f"slimkit plugin {ep.name!r} ({ep.value}) failed to load: "
                    f"{type(exc).__name__}: {first_line(exc)}",
                    stacklevel=2,
                )
                continue
            loaded.append(ep.name)
        return loaded


MODELS: Registry[Callable[..., Any]] = Registry("model", catalog=True)
DATASETS: Registry[Callable[..., Any]] = Registry("dataset", catalog=True)
PENALTIES: Registry[Callable[..., Any]] = Registry("penalty", catalog=True)
EDITS: Registry[Callable[..., Any]] = Registry("structural edit", catalog=True)
STAGES: Registry[Spec] = Registry("stage kind", parts=("config", "run"), catalog=True)
TERMS: Registry[Spec] = Registry("training term", parts=("config", "build"), catalog=True)
TASKS: Registry[Spec] = Registry("task", parts=("config", "build"), catalog=True)
