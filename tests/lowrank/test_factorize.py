"""Factorization into two layers: exact at full rank, MACs formulas, edit replay, errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from slimkit.artifacts import SlimModel, load_artifact, save_artifact
from slimkit.lowrank import (
    eligible_layers,
    factorize_conv,
    factorize_linear,
    factorize_model,
    from_matrix,
    max_rank,
    plan_factorization,
    to_matrix,
)
from slimkit.lowrank.plan import factorized_layer_macs, layer_shapes
from slimkit.measure import count_macs, macs_by_module
from slimkit.models import build_model

CONV_CASES = [
    dict(in_channels=5, out_channels=7, kernel_size=3, padding=1),
    dict(in_channels=5, out_channels=7, kernel_size=3, stride=2, padding=1, bias=True),
    dict(in_channels=4, out_channels=6, kernel_size=(3, 5), stride=(2, 1), padding=(1, 2)),
    dict(in_channels=4, out_channels=6, kernel_size=3, dilation=2, padding=2, bias=True),
    dict(in_channels=3, out_channels=8, kernel_size=3, padding=0),
    dict(in_channels=6, out_channels=4, kernel_size=3, padding="same"),
    dict(in_channels=4, out_channels=4, kernel_size=3, padding=1, padding_mode="reflect"),
]


@pytest.mark.parametrize("scheme", ["channel", "spatial"])
@pytest.mark.parametrize(
    "case", CONV_CASES, ids=lambda c: ",".join(f"{k}={v}" for k, v in c.items())
)
def test_full_rank_conv_is_exact(scheme: str, case: dict) -> None:
    torch.manual_seed(0)
    conv = nn.Conv2d(**case).eval()
    x = torch.randn(2, case["in_channels"], 11, 10)  # odd spatial size
    pair = factorize_conv(conv, max_rank(conv, scheme), scheme).eval()
    assert (pair(x) - conv(x)).abs().max().item() <= 1e-4
    first, second = pair
    assert first.bias is None and (second.bias is not None) == (conv.bias is not None)
    if scheme == "channel":
        assert second.kernel_size == (1, 1) and first.kernel_size == conv.kernel_size
    else:
        assert first.kernel_size == (conv.kernel_size[0], 1)
        assert second.kernel_size == (1, conv.kernel_size[1])


@pytest.mark.parametrize("scheme", ["channel", "spatial"])
def test_truncated_conv_equals_conv_with_projected_kernel(scheme: str) -> None:
    torch.manual_seed(1)
    conv = nn.Conv2d(6, 8, 3, stride=2, padding=1, bias=True).double().eval()
    rank = 3
    m = to_matrix(conv.weight.detach(), scheme)
    u, s, vh = torch.linalg.svd(m, full_matrices=False)
    low = nn.Conv2d(6, 8, 3, stride=2, padding=1, bias=True).double().eval()
    with torch.no_grad():
        low.weight.copy_(
            from_matrix((u[:, :rank] * s[:rank]) @ vh[:rank], conv.weight.shape, scheme)
        )
        low.bias.copy_(conv.bias)
    x = torch.randn(2, 6, 9, 9, dtype=torch.float64)
    pair = factorize_conv(conv, rank, scheme)
    assert pair[0].out_channels == rank
    assert (pair(x) - low(x)).abs().max().item() <= 1e-12


def test_reshape_round_trip_exact() -> None:
    w = torch.randn(7, 5, 3, 2)
    for scheme in ("channel", "spatial"):
        assert torch.equal(from_matrix(to_matrix(w, scheme), w.shape, scheme), w)


def test_linear_full_and_truncated() -> None:
    torch.manual_seed(2)
    fc = nn.Linear(12, 7)
    x = torch.randn(5, 12)
    assert (factorize_linear(fc, 7)(x) - fc(x)).abs().max().item() <= 1e-5
    u, s, vh = torch.linalg.svd(fc.weight.detach().double(), full_matrices=False)
    low = (u[:, :2] * s[:2]) @ vh[:2]
    expected = x.double() @ low.T + fc.bias.double()
    assert (factorize_linear(fc, 2)(x).double() - expected).abs().max().item() <= 1e-5


@pytest.mark.parametrize("scheme", ["channel", "spatial"])
def test_whole_model_full_rank_exact_and_artifact_replay(scheme: str, tmp_path: Path) -> None:
    torch.manual_seed(3)
    handle = SlimModel.build("lenet5", num_classes=10, input_size=(3, 32, 32))
    for m in handle.module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.normal_(m.weight, std=0.2)
    model = handle.module.eval()
    names = eligible_layers(model, include_linear=True)
    assert names == ["conv2", "fc1", "fc2"]
    x = torch.randn(3, 3, 32, 32)
    before = model(x)
    ranks = {n: max_rank(dict(model.named_modules())[n], scheme) for n in names}
    handle.apply_edit("factorize", ranks=ranks, scheme=scheme)
    assert (handle.module(x) - before).abs().max().item() <= 1e-4
    save_artifact(handle, tmp_path / "m.slim.pt")
    loaded = load_artifact(tmp_path / "m.slim.pt").module.eval()
    assert torch.equal(loaded(x), handle.module(x))


def test_resnet_eligible_layers_and_first_conv_skipped() -> None:
    model = build_model("resnet20")
    names = eligible_layers(model)
    assert len(names) == 18 and "conv1" not in names
    assert all("downsample" not in n for n in names)  # 1x1 shortcuts are not eligible
    assert len(eligible_layers(model, include_strided=False)) == 16


@pytest.mark.parametrize("scheme", ["channel", "spatial"])
def test_macs_formulas_match_counter(scheme: str) -> None:
    torch.manual_seed(4)
    model = build_model("resnet8_tiny").eval()
    names = eligible_layers(model)
    modules = dict(model.named_modules())
    shapes = layer_shapes(model, names, (3, 32, 32))
    ranks = {n: max(1, max_rank(modules[n], scheme) // 3) for n in names}
    expected = {n: factorized_layer_macs(modules[n], ranks[n], scheme, *shapes[n]) for n in names}
    factorize_model(model, ranks, scheme)
    per = macs_by_module(model, (3, 32, 32))
    for n in names:
        assert per[f"{n}.0"] + per[f"{n}.1"] == expected[n], n


def test_full_rank_costs_more_than_dense() -> None:
    """Digest §1.11 test 6: with every rank full, the factorized ResNet-20 is slower than dense."""
    model = build_model("resnet20")
    dense = count_macs(model, (3, 32, 32))
    ranks = {n: max_rank(dict(model.named_modules())[n], "channel") for n in eligible_layers(model)}
    assert count_macs(factorize_model(model, ranks, "channel"), (3, 32, 32)) > dense


def test_plan_rules_and_guards() -> None:
    torch.manual_seed(5)
    model = build_model("resnet20")
    full = plan_factorization(model, (3, 32, 32), rule="relative", threshold=0.0)
    assert all(p.rank == p.max_rank and not p.factorize for p in full.layers)
    plan = plan_factorization(
        model, (3, 32, 32), rule="macs", macs_target=0.5, rank_multiple=16, max_cost_ratio=0.8
    )
    total = count_macs(model, (3, 32, 32))
    assert total - plan.macs_saved() <= 0.5 * total
    assert all(r % 16 == 0 or r == dict((p.name, p.max_rank) for p in plan.layers)[n]
               for n, r in plan.ranks.items())  # fmt: skip
    factorize_model(model, plan.ranks, "spatial")
    assert count_macs(model, (3, 32, 32)) == total - plan.macs_saved()


def test_bad_input_names_the_field() -> None:
    model = build_model("resnet8_tiny")
    with pytest.raises(ValueError, match=r"ranks: 'layer1.0.conv' is not .*did you mean"):
        factorize_model(model, {"layer1.0.conv": 2})
    with pytest.raises(ValueError, match="rank: expected 1..4"):
        factorize_model(model, {"layer1.0.conv1": 5}, "channel")
    with pytest.raises(ValueError, match="scheme: unknown scheme 'nc'"):
        factorize_model(model, {"layer1.0.conv1": 2}, "nc")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="grouped"):
        factorize_conv(nn.Conv2d(4, 4, 3, groups=2), 2)
