"""Read recipe YAML strictly: duplicate keys, alias bombs, deep nesting and bad bytes are errors.

PyYAML's ``safe_load`` keeps the last of two equal keys (``epochs: 1`` then ``epochs: 50`` runs
50 epochs), expands aliases without limit (a 1 kB "billion laughs" file becomes hundreds of MB)
and recurses once per nesting level. :func:`load_yaml` refuses all three with one line that names
the file and the line(s):

- a key given twice in one mapping (both lines named);
- a document whose aliases expand to more than ``max_nodes`` nodes (default 100,000; a recipe
  has a few hundred);
- nesting deeper than ``max_depth`` levels (default 64);
- bytes that are not UTF-8 (the offset of the first bad byte named).

Example:
    >>> load_yaml("a: 1\\nb: [1, 2]\\n")
    {'a': 1, 'b': [1, 2]}
    >>> try:
    ...     load_yaml("epochs: 1\\nepochs: 50\\n", source="r.yaml")
    ... except YamlError as e:
    ...     print(e)
    r.yaml: line 2: duplicate key 'epochs' (first given on line 1)
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from slimkit.errors import first_line

__all__ = ["YamlError", "load_yaml", "MAX_DEPTH", "MAX_NODES"]

MAX_NODES = 100_000
MAX_DEPTH = 64


class YamlError(ValueError):
    """Text that is not an acceptable recipe document; the message is one line."""


def _check_nodes(root: Node, max_nodes: int, max_depth: int, where: str) -> None:
    """Check duplicate keys, the nesting depth and the size of the fully expanded document
    (aliases counted at every use) in one walk, without expanding anything (sizes of shared
    nodes are memoised)."""
    sizes: dict[int, int] = {}
    # iterative post-order walk, so a 5,000-level document does not exhaust Python's stack
    stack: list[tuple[Node, int, bool]] = [(root, 1, False)]
    while stack:
        node, depth, done = stack.pop()
        if depth > max_depth:
            line = node.start_mark.line + 1
            raise YamlError(f"{where}line {line}: nesting deeper than {max_depth} levels")
        children = _children(node)
        if done or not children:
            total = 1 + sum(sizes[id(c)] for c in children)
            if total > max_nodes:
                raise YamlError(
                    f"{where}aliases expand to more than {max_nodes:,} values "
                    "(a recipe has a few hundred); refusing to expand it"
                )
            sizes[id(node)] = total
            continue
        if id(node) in sizes:
            continue
        if isinstance(node, MappingNode):
            _check_keys(node, where)
        stack.append((node, depth, True))
        stack.extend((c, depth + 1, False) for c in children if id(c) not in sizes)


def _children(node: Node) -> list[Node]:
    if isinstance(node, SequenceNode):
        return list(node.value)
    if isinstance(node, MappingNode):
        return [n for pair in node.value for n in pair]
    return []


def _check_keys(node: MappingNode, where: str) -> None:
    first: dict[Any, int] = {}
    for key, _ in node.value:
        if not isinstance(key, ScalarNode):
            continue
        line = key.start_mark.line + 1
        if key.value in first and key.value != "<<":
            raise YamlError(
                f"{where}line {line}: duplicate key '{key.value}' "
                f"(first given on line {first[key.value]})"
            )
        first[key.value] = line


def _invalid(exc: yaml.YAMLError, where: str) -> YamlError:
    mark = getattr(exc, "problem_mark", None)
    line = f"line {mark.line + 1}: " if mark is not None else ""
    problem = getattr(exc, "problem", None) or first_line(exc)
    return YamlError(f"{where}{line}invalid YAML: {problem}")


def load_yaml(
    text: str | bytes,
    *,
    source: str | None = None,
    max_nodes: int = MAX_NODES,
    max_depth: int = MAX_DEPTH,
) -> Any:
    """Parse one YAML document safely and strictly.

    Args:
        text: the document (bytes are decoded as UTF-8).
        source: the file name used in error messages.
        max_nodes: most values the document may expand to, aliases counted at every use.
        max_depth: deepest nesting allowed.

    Raises:
        YamlError: one line naming ``source``, the line and the problem.
    """
    where = f"{source}: " if source else ""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise YamlError(
                f"{where}not UTF-8 text (byte 0x{text[exc.start]:02x} at offset {exc.start}); "
                "save the recipe as UTF-8"
            ) from None
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        raise _invalid(exc, where) from None
    except RecursionError:
        raise YamlError(f"{where}nesting deeper than {max_depth} levels") from None
    if root is None:
        return None
    _check_nodes(root, max_nodes, max_depth, where)
    try:
        return yaml.SafeLoader(text).construct_document(root)
    except yaml.YAMLError as exc:
        raise _invalid(exc, where) from None
