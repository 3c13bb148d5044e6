"""Genotypes: the discrete cell a DARTS-style search derives, as data and as ``genotype.json``.

A genotype lists, for each of the ``steps`` intermediate nodes of the normal and the reduction
cell, its two incoming edges as ``[operation, input]`` pairs; input 0 and 1 are the two cell
inputs (outputs of the previous two cells), input ``k >= 2`` is intermediate node ``k - 2``. The
cell output concatenates the nodes listed in ``*_concat`` (all intermediate nodes in DARTS).

Derivation from α is the official DARTS rule (``quark0/darts``, ``model_search.py: genotype``;
digest §1.3): softmax over the operations of each edge; for each node keep the two incoming edges
with the largest weight of any operation other than ``none``; on each kept edge take the strongest
operation other than ``none``. The optional ``skip_cap`` is **not** from DARTS or RARTS: a guard
against the known skip-connect collapse that replaces the weakest surplus ``skip_connect`` edges
of the normal cell by their next-best operation (in the spirit of P-DARTS).

Example:
    >>> g = NAMED_GENOTYPES["darts_v2"]
    >>> g.normal[0]
    (('sep_conv_3x3', 0), ('sep_conv_3x3', 1))
    >>> g.count("skip_connect", "normal")
    2
    >>> Genotype.from_dict(g.to_dict()) == g
    True
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from slimkit.fileio import atomic_write_text

__all__ = [
    "NAMED_GENOTYPES",
    "Genotype",
    "GenotypeError",
    "derive_genotype",
    "load_genotype",
    "resolve_genotype",
]

OPS = (
    "none",
    "max_pool_3x3",
    "avg_pool_3x3",
    "skip_connect",
    "sep_conv_3x3",
    "sep_conv_5x5",
    "dil_conv_3x3",
    "dil_conv_5x5",
)  # the official code's order; α's columns follow it (slimkit.nas.ops.PRIMITIVES)

Node = tuple[tuple[str, int], tuple[str, int]]


class GenotypeError(ValueError):
    """A genotype that does not describe a valid cell; the message is one line."""


@dataclass(frozen=True)
class Genotype:
    """A derived architecture: the normal and the reduction cell.

    Attributes:
        normal: per intermediate node, its two ``(operation, input)`` edges.
        reduce: the same for the reduction cell.
        normal_concat: nodes (2-based, as inputs are numbered) concatenated into the output.
        reduce_concat: the same for the reduction cell.
    """

    normal: tuple[Node, ...]
    reduce: tuple[Node, ...]
    normal_concat: tuple[int, ...] = (2, 3, 4, 5)
    reduce_concat: tuple[int, ...] = (2, 3, 4, 5)

    def __post_init__(self) -> None:
        for cell in ("normal", "reduce"):
            nodes = getattr(self, cell)
            if not nodes:
                raise GenotypeError(f"genotype {cell}: no intermediate nodes")
            for index, node in enumerate(nodes):
                if len(node) != 2:
                    raise GenotypeError(
                        f"genotype {cell} node {index}: {len(node)} input(s); every node takes "
                        "exactly 2 (DARTS keeps the top-2 incoming edges)"
                    )
                for op, source in node:
                    if op not in OPS or op == "none":
                        allowed = ", ".join(OPS[1:])
                        raise GenotypeError(
                            f"genotype {cell} node {index}: unknown operation {op!r}; "
                            f"expected one of {allowed}"
                        )
                    if not isinstance(source, int) or not 0 <= source < index + 2:
                        raise GenotypeError(
                            f"genotype {cell} node {index}: input {source!r} must be an int in "
                            f"0..{index + 1} (0, 1: cell inputs; k >= 2: node k-2)"
                        )
            concat = getattr(self, f"{cell}_concat")
            if not concat or any(not 2 <= k < len(nodes) + 2 for k in concat):
                raise GenotypeError(
                    f"genotype {cell}_concat: {list(concat)} must list nodes in 2..{len(nodes) + 1}"
                )

    @property
    def steps(self) -> int:
        """Number of intermediate nodes per cell."""
        return len(self.normal)

    def count(self, op: str, cell: str = "normal") -> int:
        """How many edges of ``cell`` (``normal`` or ``reduce``) use ``op``."""
        return sum(name == op for node in getattr(self, cell) for name, _ in node)

    def to_dict(self) -> dict[str, Any]:
        """Plain data (what ``genotype.json`` holds)."""
        return {
            "normal": [[list(edge) for edge in node] for node in self.normal],
            "normal_concat": list(self.normal_concat),
            "reduce": [[list(edge) for edge in node] for node in self.reduce],
            "reduce_concat": list(self.reduce_concat),
        }

    @classmethod
    def from_dict(cls, data: Any) -> Genotype:
        """Read the :meth:`to_dict` form; one-line :class:`GenotypeError` on bad input."""
        if not isinstance(data, dict):
            raise GenotypeError(f"genotype: expected a mapping, got {type(data).__name__}")
        missing = [k for k in ("normal", "reduce") if k not in data]
        if missing:
            raise GenotypeError(f"genotype: missing {', '.join(missing)}")
        extra = sorted(set(data) - {"normal", "reduce", "normal_concat", "reduce_concat"})
        if extra:
            raise GenotypeError(f"genotype: unknown key(s) {', '.join(map(repr, extra))}")

        def cell(name: str) -> tuple[Node, ...]:
            nodes = data[name]
            if not isinstance(nodes, list):
                raise GenotypeError(f"genotype {name}: expected a list of nodes")
            out = []
            for index, node in enumerate(nodes):
                if not isinstance(node, list) or not all(
                    isinstance(e, list | tuple) and len(e) == 2 for e in node
                ):
                    raise GenotypeError(
                        f"genotype {name} node {index}: expected [[op, input], [op, input]]"
                    )
                out.append(tuple((str(op), src) for op, src in node))
            return tuple(out)  # type: ignore[return-value]

        normal, reduce = cell("normal"), cell("reduce")
        return cls(
            normal=normal,
            reduce=reduce,
            normal_concat=tuple(data.get("normal_concat", range(2, len(normal) + 2))),
            reduce_concat=tuple(data.get("reduce_concat", range(2, len(reduce) + 2))),
        )

    def save(self, path: str | Path) -> None:
        """Write ``genotype.json`` (atomically)."""
        atomic_write_text(Path(path), json.dumps(self.to_dict(), indent=1) + "\n")


def _flat(pairs: list[tuple[str, int]]) -> tuple[Node, ...]:
    return tuple((pairs[i], pairs[i + 1]) for i in range(0, len(pairs), 2))  # type: ignore[misc]


# published genotypes of the official DARTS code (genotypes.py), for comparison
NAMED_GENOTYPES: dict[str, Genotype] = {
    "darts_v1": Genotype(
        normal=_flat(
            [("sep_conv_3x3", 1), ("sep_conv_3x3", 0), ("skip_connect", 0), ("sep_conv_3x3", 1),
             ("skip_connect", 0), ("sep_conv_3x3", 1), ("sep_conv_3x3", 0), ("skip_connect", 2)]
        ),
        reduce=_flat(
            [("max_pool_3x3", 0), ("max_pool_3x3", 1), ("skip_connect", 2), ("max_pool_3x3", 0),
             ("max_pool_3x3", 0), ("skip_connect", 2), ("skip_connect", 2), ("avg_pool_3x3", 0)]
        ),
    ),
    "darts_v2": Genotype(
        normal=_flat(
            [("sep_conv_3x3", 0), ("sep_conv_3x3", 1), ("sep_conv_3x3", 0), ("sep_conv_3x3", 1),
             ("sep_conv_3x3", 1), ("skip_connect", 0), ("skip_connect", 0), ("dil_conv_3x3", 2)]
        ),
        reduce=_flat(
            [("max_pool_3x3", 0), ("max_pool_3x3", 1), ("skip_connect", 2), ("max_pool_3x3", 1),
             ("max_pool_3x3", 0), ("skip_connect", 2), ("skip_connect", 2), ("max_pool_3x3", 1)]
        ),
    ),
}  # fmt: skip


def load_genotype(path: str | Path) -> Genotype:
    """Read a ``genotype.json`` file; one-line :class:`GenotypeError` on any problem."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise GenotypeError(f"genotype file not found: {path}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise GenotypeError(f"{path}: not a genotype JSON file ({exc})") from None
    try:
        return Genotype.from_dict(data)
    except GenotypeError as exc:
        raise GenotypeError(f"{path}: {exc}") from None


def resolve_genotype(spec: str | dict[str, Any] | Genotype) -> Genotype:
    """A genotype from a name in :data:`NAMED_GENOTYPES`, a JSON file path or its dict form."""
    if isinstance(spec, Genotype):
        return spec
    if isinstance(spec, dict):
        return Genotype.from_dict(spec)
    if spec.lower() in NAMED_GENOTYPES:
        return NAMED_GENOTYPES[spec.lower()]
    if spec.endswith(".json") or Path(spec).exists():
        return load_genotype(spec)
    names = ", ".join(NAMED_GENOTYPES)
    raise GenotypeError(f"genotype {spec!r}: not a named genotype ({names}) nor a .json file")


def _softmax(alpha: np.ndarray) -> np.ndarray:
    e = np.exp(alpha - alpha.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _derive_cell(weights: np.ndarray, steps: int) -> list[list[tuple[str, int, float]]]:
    """Per node, the two kept edges as (op, input, weight)."""
    none = OPS.index("none")
    nodes, start = [], 0
    for node in range(steps):
        rows = weights[start : start + node + 2]  # (node + 2, ops): the node's incoming edges
        masked = rows.copy()
        masked[:, none] = -np.inf
        strength = masked.max(axis=1)
        kept = sorted(range(node + 2), key=lambda j: -strength[j])[:2]
        nodes.append([(OPS[int(masked[j].argmax())], j, float(strength[j])) for j in kept])
        start += node + 2
    return nodes


def _cap_skips(nodes: list[list[tuple[str, int, float]]], weights: np.ndarray, cap: int) -> None:
    """Replace the weakest surplus skip_connect edges by their best other op (in place)."""
    skips = [(w, n, e) for n, node in enumerate(nodes) for e, (op, _, w) in enumerate(node)]
    skips = sorted(s for s in skips if nodes[s[1]][s[2]][0] == "skip_connect")
    offsets = np.cumsum([0] + [n + 2 for n in range(len(nodes))])
    banned = [OPS.index("none"), OPS.index("skip_connect")]
    for _, n, e in skips[: max(0, len(skips) - cap)]:
        op, source, _ = nodes[n][e]
        row = weights[offsets[n] + source].copy()
        row[banned] = -np.inf
        nodes[n][e] = (OPS[int(row.argmax())], source, float(row.max()))


def derive_genotype(
    alpha_normal: Any, alpha_reduce: Any, *, skip_cap: int | None = None
) -> Genotype:
    """The DARTS derivation rule applied to α (arrays of shape (edges, len(OPS))).

    Args:
        alpha_normal: α of the normal cell, ``sum(n + 2 for n in range(steps))`` rows.
        alpha_reduce: α of the reduction cell.
        skip_cap: at most this many ``skip_connect`` edges in the normal cell (not from the
            papers; ``None`` keeps the plain DARTS rule).

    Example:
        >>> import numpy as np
        >>> a = np.zeros((14, 8)); a[:, 4] = 1.0   # sep_conv_3x3 everywhere
        >>> derive_genotype(a, a).count("sep_conv_3x3")
        8
    """
    cells = []
    for name, alpha in (("normal", alpha_normal), ("reduce", alpha_reduce)):
        arr = np.asarray(alpha, dtype=np.float64)
        steps = int((np.sqrt(8 * arr.shape[0] + 9) - 3) / 2)  # rows = steps·(steps+3)/2
        if arr.ndim != 2 or arr.shape[1] != len(OPS) or steps * (steps + 3) // 2 != arr.shape[0]:
            raise GenotypeError(f"alpha_{name}: shape {arr.shape} is not (edges, {len(OPS)})")
        weights = _softmax(arr)
        nodes = _derive_cell(weights, steps)
        if skip_cap is not None and name == "normal":
            _cap_skips(nodes, weights, skip_cap)
        cells.append(tuple(tuple((op, src) for op, src, _ in node) for node in nodes))
    steps = len(cells[0])
    return Genotype(
        normal=cells[0],  # type: ignore[arg-type]
        reduce=cells[1],  # type: ignore[arg-type]
        normal_concat=tuple(range(2, steps + 2)),
        reduce_concat=tuple(range(2, len(cells[1]) + 2)),
    )
