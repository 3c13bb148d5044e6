"""Transformer dimension surgery (SiDT): exactness on timm ViT, DeiT, Swin; attributes; errors."""

from __future__ import annotations

import copy

import pytest
import torch

from slimkit.artifacts import SlimModel, load_artifact, save_artifact
from slimkit.models import build_model
from slimkit.surgery.dim_select import dim_importance, select_dims
from slimkit.surgery.transformer import (
    DimSurgeryError,
    mask_dims,
    prune_dims,
    searchable_dims,
)


def _vit():
    return build_model("vit_tiny_digits", num_classes=10)


def _deit():
    return build_model(
        "timm:deit_tiny_distilled_patch16_224", num_classes=10,
        img_size=32, patch_size=8, embed_dim=48, depth=2, num_heads=3,
    )  # fmt: skip


def _swin():
    return build_model("swin_cifar", num_classes=10, embed_dim=16, depths=(2, 2), num_heads=(2, 4))


MODELS = {"vit": _vit, "deit": _deit, "swin": _swin}


def _removal(net) -> dict:
    dims = searchable_dims(net)
    return {
        "heads": {n: [h for h in range(1, s, 2)] for n, s in dims["heads"].items()},
        "mlp": {n: list(range(0, s, 3)) for n, s in dims["mlp"].items()},
    }


@pytest.mark.parametrize("family", sorted(MODELS))
def test_removing_zeroed_heads_and_mlp_units_is_exact(family: str) -> None:
    torch.manual_seed(0)
    net = MODELS[family]().eval()
    x = torch.randn(4, 3, 32, 32)
    removal = _removal(net)
    params = sum(p.numel() for p in net.parameters())
    with torch.no_grad():
        mask_dims(net, removal)
        ref = net(x)
        prune_dims(net, removal)
        out = net(x)
    assert (out - ref).abs().max() <= 1e-5  # measured 0.0 on all three
    assert sum(p.numel() for p in net.parameters()) < 0.8 * params
    for name, heads in searchable_dims(net)["heads"].items():
        attn = net.get_submodule(name).attn
        assert attn.num_heads == heads and attn.qkv.out_features % (3 * heads) == 0
        table = getattr(attn, "relative_position_bias_table", None)
        assert table is None or table.shape[1] == heads


def test_embed_removal_narrows_every_width_and_is_measured_not_exact() -> None:
    torch.manual_seed(0)
    net = _vit().eval()
    x = torch.randn(4, 3, 32, 32)
    with torch.no_grad():
        mask_dims(net, {"embed": [0, 3, 9]})
        ref = net(x)
        prune_dims(net, {"embed": [0, 3, 9]})
        out = net(x)
    assert net.embed_dim == net.num_features == net.head_hidden_size == 45
    assert net.pos_embed.shape[-1] == net.cls_token.shape[-1] == 45
    assert net.blocks[0].norm1.normalized_shape == (45,)
    assert net.feature_info[-1]["num_chs"] == 45
    change = float((out - ref).abs().max())
    assert 0 < change < 0.2  # LayerNorm statistics change; measured 0.015 here


def test_deit_distillation_token_and_head_are_narrowed() -> None:
    net = _deit().eval()
    prune_dims(net, {"embed": [1, 2]})
    assert net.dist_token.shape[-1] == 46 and net.head_dist.in_features == 46
    assert net(torch.randn(2, 3, 32, 32)).shape == (2, 10)


def test_pruned_vit_saves_replays_exports(tmp_path) -> None:
    from slimkit.measure.onnx_export import export_onnx

    torch.manual_seed(0)
    handle = SlimModel.build("vit_tiny_digits", num_classes=10, input_size=(3, 32, 32))
    removal = {**_removal(handle.module), "embed": [4, 5]}
    handle.apply_edit("prune_dims", removal=removal)
    save_artifact(handle, tmp_path / "m.slim.pt")
    again = load_artifact(tmp_path / "m.slim.pt").module.eval()
    x = torch.randn(3, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(again(x), handle.module.eval()(x))
    result = export_onnx(again, tmp_path / "m.onnx", (3, 32, 32))
    assert result.max_abs_diff <= 1e-4  # measured ~1e-6


def test_errors_name_the_problem() -> None:
    with pytest.raises(DimSurgeryError, match="'embed' is not searchable on SwinTransformer"):
        prune_dims(_swin(), {"embed": [0]})
    with pytest.raises(DimSurgeryError, match="has no attention blocks"):
        searchable_dims(build_model("resnet8_tiny"))
    net = _vit()
    with pytest.raises(DimSurgeryError, match="budget 1.5 is outside"):
        select_dims(net, dim_importance(net, ["mlp"], "l1"), budget=1.5)
    with pytest.raises(DimSurgeryError, match="would empty it"):
        prune_dims(net, {"heads": {"blocks.0": [0, 1, 2]}})
    with pytest.raises(DimSurgeryError, match="unknown dimension kind 'tokens'"):
        prune_dims(net, {"tokens": [0]})


@pytest.mark.parametrize("allocation", ["per_layer", "global"])
def test_budget_selection_meets_the_parameter_budget(allocation: str) -> None:
    net = _vit()
    before = sum(p.numel() for p in net.parameters())
    removal = select_dims(
        net, dim_importance(net, ["embed", "heads", "mlp"], "l1"), budget=0.4, allocation=allocation
    )
    pruned = prune_dims(copy.deepcopy(net), removal)
    fraction = 1 - sum(p.numel() for p in pruned.parameters()) / before
    assert 0.4 <= fraction < 0.43  # the smallest step past the budget; measured 0.40-0.41


def test_zero_importance_dims_are_always_removed_and_groups_keep_one() -> None:
    net = _vit()
    gates = {(k, n): torch.ones(s) for k, g in searchable_dims(net).items() for n, s in g.items()}
    gates[("mlp", "blocks.1")][:10] = 0
    gates[("heads", "blocks.2")][:] = 0
    removal = select_dims(net, dim_importance(net, ["embed", "heads", "mlp"], "gates", gates))
    assert removal["mlp"] == {"blocks.1": list(range(10))}
    assert len(removal["heads"]["blocks.2"]) == 2  # one head stays
