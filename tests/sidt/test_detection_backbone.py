"""SiDT inside a detector: an FCOS on a ``features_only`` timm Swin (heads and MLP units)."""

from __future__ import annotations

import pytest
import torch

from slimkit.artifacts import SlimModel, load_artifact, save_artifact
from slimkit.measure import count_params
from slimkit.models import build_model
from slimkit.models.detection import build_feature_backbone
from slimkit.sparsity.config import DimSearchConfig
from slimkit.sparsity.dim_search import DimSearch
from slimkit.surgery.dim_select import dim_importance, select_dims
from slimkit.surgery.transformer import (
    DimSurgeryError,
    check_kinds,
    mask_dims,
    prune_dims,
    searchable_dims,
    searched_module,
)

SWIN = "timm:swin_tiny_patch4_window7_224"
SWIN_KWARGS = {"img_size": 32, "patch_size": 2, "window_size": 4, "embed_dim": 16,
               "depths": [2, 2], "num_heads": [2, 4]}  # fmt: skip


def _detector() -> torch.nn.Module:
    torch.manual_seed(0)
    return build_model(
        "fcos", num_classes=3, backbone=SWIN, backbone_kwargs=SWIN_KWARGS, fpn_channels=16,
        head_convs=1, head_groups=4,
    ).eval()  # fmt: skip


def _features(net: torch.nn.Module, x: torch.Tensor) -> list[torch.Tensor]:
    return net.backbone.body(x)


def test_swin_levels_come_back_nchw() -> None:
    feats = build_feature_backbone(SWIN, backbone_kwargs=SWIN_KWARGS)
    out = feats(torch.randn(1, 3, 32, 32))
    assert [tuple(t.shape[1:]) for t in out] == [(16, 16, 16), (32, 8, 8)]
    assert feats.channels == [16, 32] and feats.strides == [2, 4]


def test_detector_exposes_heads_and_mlp_of_its_backbone_only() -> None:
    net = _detector()
    dims = searchable_dims(net)
    assert sorted(dims) == ["heads", "mlp"]
    assert len(dims["heads"]) == 4 and dims["heads"]["backbone.body.body.layers_1.blocks.0"] == 4
    name, part = searched_module(net)
    assert name == "backbone.body.body"
    assert count_params(part) < count_params(net)
    with pytest.raises(DimSurgeryError, match="'embed' is not searchable on FCOS"):
        check_kinds(net, ["embed"])


def test_removing_zeroed_dims_in_the_detector_backbone_is_exact() -> None:
    net = _detector()
    x = torch.randn(2, 3, 32, 32)
    dims = searchable_dims(net)
    removal = {
        "heads": {n: [0] for n in dims["heads"]},
        "mlp": {n: list(range(0, s, 2)) for n, s in dims["mlp"].items()},
    }
    with torch.no_grad():
        mask_dims(net, removal)
        ref = _features(net, x)
        prune_dims(net, removal)
        out = _features(net, x)
        detections = net(x)
    for a, b in zip(ref, out, strict=True):
        assert (a - b).abs().max() <= 1e-5  # measured 0.0 (the FPN reads the same features)
    assert net.backbone.body.body.layers_1.blocks[0].attn.num_heads == 3
    assert len(detections) == 2 and detections[0]["boxes"].shape[1] == 4


def test_budget_is_a_fraction_of_the_backbone_and_the_edit_replays(tmp_path) -> None:
    torch.manual_seed(0)
    kwargs = {"backbone": SWIN, "backbone_kwargs": SWIN_KWARGS, "fpn_channels": 16,
              "head_convs": 1, "head_groups": 4}  # fmt: skip
    handle = SlimModel.build("fcos", num_classes=3, input_size=(3, 32, 32), kwargs=kwargs)
    net = handle.module.eval()
    name, part = searched_module(net)
    importance = dim_importance(net, ["heads", "mlp"], "l1")

    def backbone_params(m: torch.nn.Module) -> float:
        return float(count_params(m.get_submodule(name)))

    removal = select_dims(net, importance, budget=0.3, cost=backbone_params)
    before = count_params(part)
    handle.apply_edit("prune_dims", removal=removal)
    after = count_params(handle.module.get_submodule(name))
    assert 0.3 <= 1 - after / before <= 0.36  # bisection stops at the first count that meets it
    save_artifact(handle, tmp_path / "det.slim")
    again = load_artifact(tmp_path / "det.slim").module.eval()
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        for a, b in zip(_features(handle.module.eval(), x), _features(again, x), strict=True):
            assert torch.equal(a, b)


def test_dim_search_term_gates_a_detector_and_folds_exactly() -> None:
    net = _detector()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        ref = _features(net, x)
    term = DimSearch(DimSearchConfig(), net)
    with torch.no_grad():
        assert all(torch.equal(a, b) for a, b in zip(ref, _features(net, x), strict=True))
        term.gates[("heads", "backbone.body.body.layers_0.blocks.1")][1] = 0.0
        term.gates[("mlp", "backbone.body.body.layers_1.blocks.0")][:5] = 0.0
        gated = _features(net, x)
    term.on_train_end(net)  # hooks removed, gates folded into proj / fc2
    with torch.no_grad():
        folded = _features(net, x)
    for a, b in zip(gated, folded, strict=True):
        assert (a - b).abs().max() <= 1e-5
