"""Genotypes: the DARTS derivation rule, the skip cap, genotype.json and its one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from slimkit.nas.genotype import (
    NAMED_GENOTYPES,
    OPS,
    Genotype,
    GenotypeError,
    derive_genotype,
    load_genotype,
    resolve_genotype,
)
from slimkit.nas.ops import PRIMITIVES

SEP3, SKIP, NONE = OPS.index("sep_conv_3x3"), OPS.index("skip_connect"), OPS.index("none")


def test_torch_free_op_list_matches_the_modules() -> None:
    assert OPS == PRIMITIVES and len(OPS) == 8


def test_derivation_keeps_top2_edges_and_ignores_none() -> None:
    alpha = np.zeros((14, 8))
    alpha[:, NONE] = 10.0  # `none` dominates every edge and must still never be chosen
    # node 2 (rows 5..8: inputs 0, 1, node0, node1): make inputs 3 and 0 the strongest
    alpha[5 + 3, SEP3] = 5.0
    alpha[5 + 0, SKIP] = 4.0
    alpha[5 + 1, SEP3] = 1.0
    g = derive_genotype(alpha, alpha)
    assert g.normal[2] == (("sep_conv_3x3", 3), ("skip_connect", 0))
    assert all(op != "none" for node in g.normal for op, _ in node)
    assert all(len(node) == 2 for node in g.normal) and g.steps == 4


def test_skip_cap_replaces_the_weakest_skips() -> None:
    alpha = np.zeros((14, 8))
    alpha[:, SKIP] = np.linspace(1.0, 2.0, 14)  # skip_connect wins everywhere, weakest first
    alpha[:, SEP3] = 0.5
    plain = derive_genotype(alpha, alpha)
    assert plain.count("skip_connect") == 8
    capped = derive_genotype(alpha, alpha, skip_cap=2)
    assert capped.count("skip_connect") == 2 and capped.count("sep_conv_3x3") == 6
    assert capped.reduce == plain.reduce  # the cap applies to the normal cell only
    # the two kept skips are the strongest ones: node 3's edges (the last rows)
    assert [op for op, _ in capped.normal[3]] == ["skip_connect", "skip_connect"]


def test_json_round_trip(tmp_path: Path) -> None:
    g = NAMED_GENOTYPES["darts_v2"]
    g.save(tmp_path / "genotype.json")
    assert load_genotype(tmp_path / "genotype.json") == g
    assert resolve_genotype(str(tmp_path / "genotype.json")) == g
    assert resolve_genotype("DARTS_V2") == g
    assert g.count("sep_conv_3x3") == 5 and g.count("max_pool_3x3", "reduce") == 5


@pytest.mark.parametrize(
    ("edit", "needle"),
    [
        (
            lambda d: d["normal"][1][0].__setitem__(0, "sep_conv_7x7"),
            "unknown operation 'sep_conv_7x7'",
        ),
        (lambda d: d["normal"][2].pop(), "normal node 2: 1 input(s); every node takes exactly 2"),
        (
            lambda d: d["reduce"][0][1].__setitem__(1, 5),
            "reduce node 0: input 5 must be an int in 0..1",
        ),
        (lambda d: d["normal"][0][0].__setitem__(0, "none"), "unknown operation 'none'"),
        (lambda d: d.__setitem__("normall", []), "unknown key(s) 'normall'"),
        (
            lambda d: d.__setitem__("normal_concat", [1, 2]),
            "normal_concat: [1, 2] must list nodes in 2..5",
        ),
    ],
)
def test_bad_genotype_files_get_one_line(tmp_path: Path, edit, needle: str) -> None:
    data = NAMED_GENOTYPES["darts_v2"].to_dict()
    edit(data)
    path = tmp_path / "g.json"
    path.write_text(json.dumps(data))
    with pytest.raises(GenotypeError) as info:
        load_genotype(path)
    assert needle in str(info.value) and "\n" not in str(info.value), str(info.value)


def test_unreadable_and_unknown_specs() -> None:
    with pytest.raises(GenotypeError, match="genotype file not found"):
        load_genotype("/nonexistent/genotype.json")
    with pytest.raises(GenotypeError, match="not a named genotype"):
        resolve_genotype("darts_v3")
    with pytest.raises(GenotypeError, match="not .edges, 8."):
        derive_genotype(np.zeros((13, 8)), np.zeros((14, 8)))
    with pytest.raises(GenotypeError, match="exactly 2"):
        Genotype(normal=((("sep_conv_3x3", 0),),), reduce=((("sep_conv_3x3", 0),),))  # type: ignore[arg-type]
