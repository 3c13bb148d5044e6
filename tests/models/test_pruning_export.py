"""torch-pruning tracing/surgery and ONNX export of the tiny variants."""

from __future__ import annotations

import pytest
import torch
import torch_pruning as tp

from slimkit.models import build_model

TINY = [
    "resnet8_tiny",
    "resnet8a_tiny",
    "resnet_bottleneck_tiny",
    "vgg_tiny",
    "densenet_tiny",
    "densenet_bc_tiny",
    "wrn_tiny",
    "lenet5",
]
# Option A pads channels with F.pad, which torch-pruning cannot follow: convert with
# shortcut_a_to_b before surgery.
PRUNABLE = [n for n in TINY if n != "resnet8a_tiny"]


@pytest.mark.parametrize("name", TINY)
def test_dependency_graph_builds(name: str) -> None:
    model = build_model(name).eval()
    graph = tp.DependencyGraph().build_dependency(model, example_inputs=torch.randn(1, 3, 32, 32))
    assert len(list(graph.get_all_groups())) > 0


@pytest.mark.parametrize("name", PRUNABLE)
def test_half_channel_pruning_keeps_a_working_model(name: str) -> None:
    model = build_model(name, num_classes=6).eval()
    x = torch.randn(2, 3, 32, 32)
    before = sum(p.numel() for p in model.parameters())
    pruner = tp.pruner.MagnitudePruner(
        model,
        x[:1],
        importance=tp.importance.MagnitudeImportance(p=2),
        pruning_ratio=0.5,
        ignored_layers=[m for m in model.modules() if getattr(m, "out_features", None) == 6],
    )
    pruner.step()
    assert sum(p.numel() for p in model.parameters()) < 0.6 * before
    assert model(x).shape == (2, 6)
