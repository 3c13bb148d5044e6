"""Static import graph of ``src/slimkit``: find import cycles without importing anything.

Every ``.py`` file under the package is parsed with :mod:`ast`. Imports are split in two kinds:

- **module-level**: statements run when the module is imported (the top level, including inside
  ``if``/``try``/``with`` blocks and class bodies, but not inside ``if TYPE_CHECKING:``);
- **function-level**: inside a ``def`` (run only when the function is called).

Importing ``a.b.c`` also runs the packages ``a`` and ``a.b`` first, so those are edges too
(except the importing module's own parent packages, which Python has always imported, or started
to, before the module itself), and ``from pkg import name`` is an edge to ``pkg.name`` when that
is a module of the package, else to ``pkg`` (also when ``pkg`` is a parent package: reading a name
from a half-initialised ``__init__`` is the classic cycle). A cycle made only of module-level edges is an error (a partially initialised module can
be seen, and the order of imports starts to matter); cycles that need a function-level edge are
the accepted way to break one and are only counted.

Run ``python -m slimkit.devtools.imports`` (exit status 1 when there is a module-level cycle,
each printed as a chain ``a -> b -> a``); ``--verbose`` lists the function-level cycles too.

Example:
    >>> graph = build_graph()
    >>> "slimkit.registry" in graph.modules
    True
    >>> module_level_cycles(graph)
    []
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["ImportGraph", "build_graph", "find_cycles", "main", "module_level_cycles"]

PACKAGE = "slimkit"


@dataclass
class ImportGraph:
    """Modules of the package and their internal import edges, by kind."""

    modules: dict[str, Path] = field(default_factory=dict)
    module_level: dict[str, set[str]] = field(default_factory=dict)
    function_level: dict[str, set[str]] = field(default_factory=dict)

    def edge_count(self, kind: str) -> int:
        """Number of edges of ``kind`` (``"module_level"`` or ``"function_level"``)."""
        return sum(len(v) for v in getattr(self, kind).values())


def _module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.Module) -> Iterable[tuple[ast.Import | ast.ImportFrom, bool]]:
    """Yield ``(import node, at module level)``; skips ``if TYPE_CHECKING:`` bodies."""

    def walk(
        nodes: list[ast.stmt], top: bool
    ) -> Iterable[tuple[ast.Import | ast.ImportFrom, bool]]:
        for node in nodes:
            if isinstance(node, ast.Import | ast.ImportFrom):
                yield node, top
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                yield from walk(node.body, False)
            elif isinstance(node, ast.If) and _is_type_checking(node.test):
                yield from walk(node.orelse, top)
            else:
                for name in ("body", "orelse", "finalbody", "handlers", "cases"):
                    children = getattr(node, name, None)
                    if isinstance(children, list):
                        stmts = [c for c in children if isinstance(c, ast.stmt)]
                        for c in children:  # except handlers and match cases hold statements
                            if isinstance(c, ast.ExceptHandler | ast.match_case):
                                stmts.extend(c.body)
                        yield from walk(stmts, top)

    yield from walk(tree.body, True)


def _targets(
    node: ast.Import | ast.ImportFrom, module: str, is_package: bool, known: set[str]
) -> set[str]:
    """Internal modules an import statement runs (with their parent packages)."""
    names: list[str] = []
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    else:
        base = node.module or ""
        if node.level:
            package = module if is_package else module.rpartition(".")[0]
            for _ in range(node.level - 1):
                package = package.rpartition(".")[0]
            base = f"{package}.{base}" if base else package
        for alias in node.names:
            full = f"{base}.{alias.name}"
            names.append(full if full in known else base)
    out: set[str] = set()
    for name in names:
        if name in known and name != module:
            out.add(name)
        parts = name.split(".")
        for i in range(1, len(parts)):  # importing a.b.c runs a and a.b first...
            prefix = ".".join(parts[:i])
            # ...except the importing module's own ancestors, already imported (or importing)
            if prefix in known and prefix != module and not module.startswith(prefix + "."):
                out.add(prefix)
    return out


def build_graph(root: Path | None = None) -> ImportGraph:
    """Parse every module under ``root`` (default: the installed ``slimkit`` package).

    Args:
        root: the package directory (``.../src/slimkit``).

    Returns:
        The :class:`ImportGraph` of internal imports.
    """
    root = Path(root) if root is not None else Path(__file__).resolve().parents[1]
    graph = ImportGraph()
    for path in sorted(root.rglob("*.py")):
        graph.modules[_module_name(root, path)] = path
    known = set(graph.modules)
    for module, path in graph.modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        is_package = path.name == "__init__.py"
        top, inner = graph.module_level.setdefault(module, set()), set()
        for node, at_top in _imports(tree):
            (top if at_top else inner).update(_targets(node, module, is_package, known))
        graph.function_level[module] = inner - top
    return graph


def find_cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """One cycle (as a chain ``[a, b, ..., a]``) per strongly connected component with a loop.

    Example:
        >>> find_cycles({"a": {"b"}, "b": {"a"}, "c": {"a"}})
        [['a', 'b', 'a']]
    """
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    counter = [0]

    def strongconnect(v: str) -> None:  # Tarjan, recursive (the package is a few hundred files)
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                strongconnect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1 or v in edges.get(v, ()):
                components.append(sorted(comp))

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 10_000))
    try:
        for v in sorted(edges):
            if v not in index:
                strongconnect(v)
    finally:
        sys.setrecursionlimit(limit)
    return [_chain(comp, edges) for comp in sorted(components)]


def _chain(component: list[str], edges: dict[str, set[str]]) -> list[str]:
    """A shortest cycle through the component's first module (breadth-first)."""
    members = set(component)
    start = component[0]
    parents: dict[str, str] = {}
    frontier = [start]
    while frontier:
        nxt = []
        for v in frontier:
            for w in sorted(edges.get(v, ())):
                if w not in members:
                    continue
                if w == start:
                    path = [v]
                    while path[-1] != start:
                        path.append(parents[path[-1]])
                    return [start, *reversed(path[:-1]), start] if v != start else [start, start]
                if w not in parents:
                    parents[w] = v
                    nxt.append(w)
        frontier = nxt
    return [start, start]


def module_level_cycles(graph: ImportGraph) -> list[list[str]]:
    """Cycles made only of module-level imports (the failure)."""
    return find_cycles(graph.module_level)


def main(argv: list[str] | None = None) -> int:
    """Print the graph's summary and its cycles; return 1 when a module-level cycle exists."""
    parser = argparse.ArgumentParser(prog="python -m slimkit.devtools.imports", description=__doc__)
    parser.add_argument("--root", type=Path, default=None, help="package directory")
    parser.add_argument("-v", "--verbose", action="store_true", help="list function-level cycles")
    args = parser.parse_args(argv)
    graph = build_graph(args.root)
    both = {
        m: graph.module_level.get(m, set()) | graph.function_level.get(m, set())
        for m in graph.modules
    }
    bad = module_level_cycles(graph)
    soft = [c for c in find_cycles(both)]
    print(
        f"{len(graph.modules)} modules; {graph.edge_count('module_level')} module-level and "
        f"{graph.edge_count('function_level')} function-level internal imports"
    )
    print(f"module-level cycles: {len(bad)}; cycles through function-level imports: {len(soft)}")
    for cycle in bad:
        print("  cycle (module-level): " + " -> ".join(cycle))
    if args.verbose:
        for cycle in soft:
            print("  cycle (needs a function-level import, allowed): " + " -> ".join(cycle))
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
