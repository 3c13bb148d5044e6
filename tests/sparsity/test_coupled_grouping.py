"""bn_sparsity grouping: coupled / block: coupled channels reach exact zero together."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import yaml

from slimkit.models import build_model
from slimkit.recipes import recipe_from_dict
from slimkit.sparsity.bn_scale import BNScaleSparsity
from slimkit.sparsity.config import BNSparsityConfig
from tests.helpers import run_cli


def _term(grouping: str, penalty: str = "group_l21", **kw) -> tuple[BNScaleSparsity, object]:
    torch.manual_seed(0)
    model = build_model("resnet20")
    with torch.no_grad():  # scales of different sizes: elementwise shrinkage zeroes them apart
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.uniform_(0.01, 0.2)
    cfg = BNSparsityConfig(
        name="bn_sparsity", penalty=penalty, lam=0.5, beta=10.0, xi_init="gamma",
        grouping=grouping, **kw,
    )  # fmt: skip
    term = BNScaleSparsity(cfg, model)
    term.set_units(model, (3, 32, 32))
    term.on_train_start(model)
    return term, model


@pytest.mark.parametrize(("grouping", "width"), [("coupled", None), ("block", 8)])
def test_groups_reach_zero_together(grouping: str, width: int | None) -> None:
    term, model = _term(grouping, block=width or 8)
    partial_seen = False
    for _ in range(40):
        term.after_step(model, lr=0.1)
        for index in term.units:
            zero = term.xi[index] == 0
            assert bool((zero.all(dim=1) | ~zero.any(dim=1)).all())  # all or none per group
            partial_seen |= bool(zero.all(dim=1).any() & ~zero.all(dim=1).all())
    assert partial_seen  # some groups are zero while others are not yet
    assert term.units[-1].shape[1] == (4 if grouping == "coupled" else 32)  # the streams


def test_channel_grouping_zeroes_stream_scales_apart() -> None:
    term, model = _term("channel", penalty="l1")
    for _ in range(3):  # ξ shrinks by 0.025 per step; the scales start in [0.01, 0.2]
        term.after_step(model, lr=0.1)
    stream = _term("coupled")[0].units[-1]  # the same positions under coupled grouping
    zero = term.xi[stream] == 0
    assert bool((zero.any(dim=1) & ~zero.all(dim=1)).any())  # partly zero channels


def test_grouping_needs_a_group_penalty() -> None:
    with pytest.raises(ValueError, match="grouping: 'coupled' needs a group penalty"):
        BNSparsityConfig(name="bn_sparsity", penalty="l1", grouping="coupled")


@pytest.mark.slow  # 35 s on 2 cores: on CI's slow line to keep the fast line under 10 min
def test_coupled_grouping_removes_residual_stream_channels(tmp_path: Path) -> None:
    recipe = {
        "name": "coupled",
        "model": {"name": "resnet20"},
        "data": {"name": "digits", "batch_size": 64},
        "stages": [
            {
                "kind": "train",
                "epochs": 4,
                "optimizer": {"name": "sgd", "lr": 0.1, "momentum": 0.9},
                "terms": [
                    {
                        "name": "bn_sparsity", "penalty": "group_l21", "grouping": "coupled",
                        "lam": 0.03, "beta": 10.0, "gamma_init": 0.05, "xi_init": "gamma",
                    }
                ],
            },
            {"kind": "prune", "rule": "zeros"},
        ],
    }  # fmt: skip
    recipe_from_dict(recipe)  # valid
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump(recipe))
    proc = run_cli("run", str(path), "--out", str(tmp_path / "run"), "-q")
    assert proc.returncode == 0, proc.stderr[-3000:]
    from slimkit.artifacts import load_artifact

    model = load_artifact(tmp_path / "run" / "model.slim.pt").module
    streams = (model.conv1.out_channels, model.layer2[0].conv2.out_channels)
    assert streams[0] < 16 or streams[1] < 32, (
        streams
    )  # measured: 15, 22 (channel grouping at λ 0.01, 10 epochs: 16, 32)
    report = json.loads((tmp_path / "run" / "report.json").read_text())
    assert report["stages"][1]["channels_removed"] > 0
