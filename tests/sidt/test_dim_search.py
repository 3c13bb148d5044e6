"""The dim_search term: identity at init, proximal zeros, exact folding, state round trip."""

from __future__ import annotations

import pytest
import torch

from slimkit.config import validate_config
from slimkit.models import build_model
from slimkit.sparsity.config import DimSearchConfig
from slimkit.sparsity.dim_search import DimSearch
from slimkit.surgery.transformer import DimSurgeryError


@pytest.mark.parametrize("name", ["vit_tiny_digits", "swin_cifar"])
def test_gated_model_equals_ungated_at_init(name: str) -> None:
    torch.manual_seed(0)
    kwargs = (
        {"embed_dim": 16, "depths": (2, 2), "num_heads": (2, 4)} if name == "swin_cifar" else {}
    )
    net = build_model(name, num_classes=10, **kwargs).eval()
    x = torch.randn(2, 3, 32, 32)
    ref = net(x)
    term = DimSearch(DimSearchConfig(), net)
    assert len(term.handles) > 0
    assert torch.equal(net(x), ref)


def test_folding_random_gates_is_exact_and_removes_the_hooks() -> None:
    torch.manual_seed(0)
    net = build_model("vit_tiny_digits", num_classes=10).eval()
    term = DimSearch(DimSearchConfig(), net)
    with torch.no_grad():
        for gate in term.gates.values():
            gate.uniform_(0.2, 1.5)
    x = torch.randn(3, 3, 32, 32)
    with torch.no_grad():
        gated = net(x)
        term.on_train_end(net)
        folded = net(x)
    assert term.handles == []
    assert (gated - folded).abs().max() <= 1e-5  # measured ~1e-6 (float rounding)


def test_proximal_steps_reach_exact_zeros_and_state_round_trips() -> None:
    torch.manual_seed(0)
    net = build_model("vit_tiny_digits", num_classes=10)
    cfg = DimSearchConfig(lam=1.0, gate_lr=0.1, kinds=["mlp", "heads"])
    term = DimSearch(cfg, net)
    term.on_train_start(net)
    x, y = torch.randn(8, 3, 32, 32), torch.randint(0, 10, (8,))
    for _ in range(12):  # each prox shrinks by 0.1; the task gradient is small
        torch.nn.functional.cross_entropy(net(x), y).backward()
        term.after_step(net, lr=0.1)
    zeros = term.zero_fraction()
    assert zeros["zero_mlp"] > 0.9 and set(zeros) == {"zero_mlp", "zero_heads"}
    other = DimSearch(cfg, build_model("vit_tiny_digits", num_classes=10))
    other.load_state_dict(term.state_dict())
    assert all(torch.equal(other.gates[k], g) for k, g in term.gates.items())
    assert term.summary()["dim_search"]["mlp"]["zero_gates"] > 0


def test_bad_config_and_models_get_one_line_errors() -> None:
    with pytest.raises(ValueError, match="kinds"):
        validate_config(DimSearchConfig, {"kinds": ["tokens"]}, "term")
    with pytest.raises(DimSurgeryError, match="has no attention blocks"):
        DimSearch(DimSearchConfig(), build_model("resnet8_tiny"))
    swin = build_model("swin_cifar", embed_dim=16, depths=(2, 2), num_heads=(2, 4))
    with pytest.raises(DimSurgeryError, match="'embed' is not searchable"):
        DimSearch(DimSearchConfig(kinds=["embed"]), swin)
