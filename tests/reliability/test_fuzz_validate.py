"""Property-based fuzzing of ``slimkit validate`` with a seeded generator over the shipped recipes.

Every generated case is a shipped recipe with one mutation, written to a file (or given as an
override). Properties:

- every case: ``validate`` returns 0 with one ``ok`` line on stdout and nothing on stderr, or 2
  with exactly one ``slimkit: error:`` line on stderr, and never raises (no traceback);
- a mutation that is invalid by construction (unknown key, wrong type, NaN/Inf, missing
  required key, duplicate key, bad bytes, alias bomb, deep nesting, non-list stages) fails;
- a mutation that is valid by construction (a field set to another in-range value) passes.

The generator is seeded, so a failure names a case that reproduces.
"""

from __future__ import annotations

import copy
import random
import time
from collections.abc import Callable
from typing import Any

import pytest
import yaml

from tests.helpers import REPO
from tests.reliability.cli_probe import cli

CASES = 600
SEED = 20261201

Path_ = tuple[Any, ...]


def _shipped() -> list[tuple[str, dict[str, Any]]]:
    """Shipped recipes that validate here (``model.weights`` must exist relative to the repo)."""
    out = []
    for path in sorted((REPO / "recipes").glob("*.yaml")):
        if cli("validate", str(path)).rc == 0:
            out.append((path.name, yaml.safe_load(path.read_text())))
    return out


def _leaves(node: Any, path: Path_ = (), kwargs: bool = False) -> list[tuple[Path_, Any]]:
    """(path, value) of every scalar or list-of-scalars leaf; inside free-form ``*kwargs``
    mappings (where most values may be fine) only when ``kwargs``."""
    if isinstance(node, dict):
        out = []
        for key, value in node.items():
            if str(key).endswith("kwargs") and not kwargs:
                continue
            out += _leaves(value, (*path, key), kwargs)
        return out
    if isinstance(node, list) and node and all(isinstance(v, dict) for v in node):
        return [leaf for i, v in enumerate(node) for leaf in _leaves(v, (*path, i), kwargs)]
    return [(path, node)]


def _mappings(node: Any, path: Path_ = ()) -> list[Path_]:
    """Paths of every mapping (where an unknown key can be inserted), outside ``kwargs``."""
    out: list[Path_] = []
    if isinstance(node, dict):
        out.append(path)
        for key, value in node.items():
            if not str(key).endswith("kwargs"):
                out += _mappings(value, (*path, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            out += _mappings(value, (*path, i))
    return out


def _get(node: Any, path: Path_) -> Any:
    for part in path:
        node = node[part]
    return node


def _set(node: Any, path: Path_, value: Any) -> None:
    _get(node, path[:-1])[path[-1]] = value


# -- mutations: each returns (file bytes or None, overrides, expectation) ---------------------
# expectation: "invalid" (must fail), "valid" (must pass) or "any" (must not traceback)

Mutation = Callable[[random.Random, dict[str, Any]], tuple[bytes, list[str], str]]


def _dump(raw: Any) -> bytes:
    return yaml.safe_dump(raw, sort_keys=False).encode()


def unknown_key(rng: random.Random, raw: dict[str, Any]) -> tuple[bytes, list[str], str]:
    where = rng.choice(_mappings(raw))
    _get(raw, where)["zz_" + rng.choice(["lr", "epochs", "name", "x"])] = 1
    return _dump(raw), [], "invalid"


def wrong_type(rng: random.Random, raw: dict[str, Any]) -> tuple[bytes, list[str], str]:
    path, _ = rng.choice(_leaves(raw))
    _set(raw, path, rng.choice([{"x": 1}, [[1, 2], {"y": None}], {"nested": {"deep": []}}]))
    return _dump(raw), [], "invalid"


def non_finite(rng: random.Random, raw: dict[str, Any]) -> tuple[bytes, list[str], str]:
    numeric = [
        (p, v)
        for p, v in _leaves(raw, kwargs=True)
        if isinstance(v, int | float) and not isinstance(v, bool)
    ]
    if not numeric:
        return _dump(raw), [], "valid"
    path, _ = rng.choice(numeric)
    _set(raw, path, rng.choice([float("inf"), float("-inf"), float("nan")]))
    return _dump(raw), [], "invalid"


def missing_required(rng: random.Random, raw: dict[str, Any]) -> tuple[bytes, list[str], str]:
    choice = rng.choice(["model", "stages", "model.name", "train.epochs"])
    if choice == "train.epochs":
        trains = [s for s in raw["stages"] if s.get("kind") == "train"]
        if not trains:
            del raw["model"]
        else:
            rng.choice(trains).pop("epochs", None)
            for stage in trains:  # every train stage needs epochs; drop it from all
                stage.pop("epochs", None)
    elif choice == "model.name":
        raw["model"].pop("name")
    else:
        del raw[choice]
    return _dump(raw), [], "invalid"


def duplicate_key(rng: random.Random, raw: dict[str, Any]) -> tuple[bytes, list[str], str]:
    key = rng.choice(list(raw))
    text = _dump(raw).decode() + _dump({key: raw[key]}).decode()
    return text.encode(), [], "invalid"


def bad_bytes(rng: random.Random, raw: dict[str, Any]) -> tuple[bytes, list[str], str]:
    data = bytearray(_dump(raw))
    data.insert(rng.randrange(len(data)), rng.choice([0xF5, 0xFF, 0xC0, 0x80]))
    return bytes(data), [], "invalid"


def alias_bomb(rng: random.Random, raw: dict[str, Any]) -> tuple[bytes, list[str], str]:
    width = rng.randint(8, 12)
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, rng.randint(6, 9)):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * width) + "]")
    return ("\n".join(lines) + "\n").encode() + _dump(raw), [], "invalid"


def deep_nesting(rng: random.Random, raw: dict[str, Any]) -> tuple[bytes, list[str], str]:
    depth = rng.choice([70, 500, 5000])
    opener, closer = rng.choice([("[", "]"), ("{a: ", "}")])
    text = _dump(raw) + f"junk: {opener * depth}1{closer * depth}\n".encode()
    return text, [], "invalid"


def stages_not_list(rng: random.Random, raw: dict[str, Any]) -> tuple[bytes, list[str], str]:
    raw["stages"] = rng.choice([5, "train", {"kind": "train", "epochs": 1}, None, []])
    overrides = ["stages.0.epochs=1"] if rng.random() < 0.5 else []
    return _dump(raw), overrides, "invalid"


def in_range(rng: random.Random, raw: dict[str, Any]) -> tuple[bytes, list[str], str]:
    """Set fields to other values inside their documented ranges."""
    trains = [s for s in raw["stages"] if s.get("kind") == "train"]
    choice = rng.choice(["seed", "batch", "epochs", "lr", "threads"])
    if choice == "seed":
        raw["seed"] = rng.randrange(0, 2**63)
    elif choice == "batch":
        raw.setdefault("data", {})["eval_batch_size"] = rng.randint(1, 4096)
    elif choice == "epochs" and trains:
        rng.choice(trains)["epochs"] = rng.randint(1, 500)
    elif choice == "lr" and trains:
        rng.choice(trains).setdefault("optimizer", {})["lr"] = 10 ** rng.uniform(-6, 0)
    else:
        raw.setdefault("runtime", {})["threads"] = rng.randint(1, 64)
    return _dump(raw), [], "valid"


def any_value(rng: random.Random, raw: dict[str, Any]) -> tuple[bytes, list[str], str]:
    """Any leaf set to an arbitrary value: valid or not, never a traceback."""
    path, _ = rng.choice(_leaves(raw))
    value = rng.choice(
        [-1, 0, 1, 2**70, -(2**70), 1e308, -0.0, "", "abc", True, None, [], [0], ["x"], 0.5]
    )
    _set(raw, path, value)
    return _dump(raw), [], "any"


def truncated(rng: random.Random, raw: dict[str, Any]) -> tuple[bytes, list[str], str]:
    data = _dump(raw)
    return data[: rng.randrange(len(data))], [], "any"


def flipped(rng: random.Random, raw: dict[str, Any]) -> tuple[bytes, list[str], str]:
    data = bytearray(_dump(raw))
    for _ in range(rng.randint(1, 4)):
        data[rng.randrange(len(data))] = rng.choice(b":-[]{}&*!|>'\"#%@` \n\tab01")
    return bytes(data), [], "any"


def random_override(rng: random.Random, raw: dict[str, Any]) -> tuple[bytes, list[str], str]:
    heads = ["train", "data", "model", "runtime", "stages", "seed", "export", "nope", ""]
    parts = [rng.choice(heads)] + [
        rng.choice(["0", "1", "9", "epochs", "lr", "optimizer", "terms", "x", "", "name"])
        for _ in range(rng.randint(0, 3))
    ]
    value = rng.choice(["1", "-1", ".inf", "[1, 2]", "{a: 1}", "abc", "", "null", "[[[", "&a 1"])
    sep = "=" if rng.random() < 0.9 else ""
    return _dump(raw), [".".join(parts) + sep + value], "any"


MUTATIONS: list[Mutation] = [
    unknown_key,
    wrong_type,
    non_finite,
    missing_required,
    duplicate_key,
    bad_bytes,
    alias_bomb,
    deep_nesting,
    stages_not_list,
    in_range,
    any_value,
    truncated,
    flipped,
    random_override,
]


@pytest.fixture(scope="module")
def shipped() -> list[tuple[str, dict[str, Any]]]:
    recipes = _shipped()
    assert len(recipes) >= 30, f"only {len(recipes)} shipped recipes validate here"  # 44 ship
    return recipes


def test_fuzzed_recipes_get_one_line_and_the_right_verdict(shipped, tmp_path):
    rng = random.Random(SEED)
    counts = {m.__name__: 0 for m in MUTATIONS}
    started = time.perf_counter()
    for case in range(CASES):
        name, base = rng.choice(shipped)
        mutation = MUTATIONS[case % len(MUTATIONS)]
        data, overrides, expect = mutation(rng, copy.deepcopy(base))
        path = tmp_path / f"case{case}.yaml"
        path.write_bytes(data)
        label = f"case {case} ({mutation.__name__} of {name}, overrides {overrides})"
        try:
            outcome = cli("validate", str(path), *overrides)
        except BaseException as exc:  # noqa: BLE001
            pytest.fail(f"{label}: {type(exc).__name__} escaped main: {exc}")
        assert outcome.rc in (0, 2), f"{label}: rc {outcome.rc}: {outcome.err}"
        if outcome.rc == 0:
            assert outcome.err == "", f"{label}: {outcome.err}"
            assert outcome.out.strip().endswith(")") and ": ok (" in outcome.out, label
        else:
            outcome.one_line_error()
        if expect == "invalid":
            assert outcome.rc == 2, f"{label}: an invalid recipe was accepted"
        elif expect == "valid":
            assert outcome.rc == 0, f"{label}: a valid recipe was refused: {outcome.err}"
        path.unlink()
        counts[mutation.__name__] += 1
    seconds = time.perf_counter() - started
    assert sum(counts.values()) >= 500
    assert seconds < 60, f"{CASES} cases took {seconds:.1f} s"
