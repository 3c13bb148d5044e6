"""The supernet and darts_net: structure, α handling, ONNX export and artifact replay."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from slimkit.artifacts import SlimModel, load_artifact, save_artifact
from slimkit.measure import count_params, export_onnx
from slimkit.measure.ort_session import ort_session
from slimkit.nas.genotype import NAMED_GENOTYPES
from slimkit.nas.layout import reduction_layers
from slimkit.nas.network import darts_net
from slimkit.nas.ops import PRIMITIVES, make_op
from slimkit.nas.retrain import DartsRetrain
from slimkit.nas.supernet import DartsSupernet, MixedOp


def test_supernet_structure() -> None:
    net = DartsSupernet(num_classes=10, cells=5, channels=8)
    assert reduction_layers(5) == (1, 3) and reduction_layers(8) == (2, 5)
    assert [c.reduction for c in net.cells] == [False, True, False, True, False]
    assert all(len(c.edges) == 14 for c in net.cells)
    assert all(len(e.ops) == 8 for c in net.cells for e in c.edges)
    for bn in (m for m in net.cells.modules() if isinstance(m, torch.nn.BatchNorm2d)):
        assert not bn.affine  # non-affine BN in the search cells
    arch = list(net.arch_parameters())
    assert [tuple(a.shape) for a in arch] == [(14, 8), (14, 8)]
    assert float(arch[0].detach().abs().max()) < 0.01  # 1e-3 · N(0, 1)
    weights = list(net.weight_parameters())
    assert len(weights) + 2 == len(list(net.parameters()))
    assert not {id(a) for a in arch} & {id(w) for w in weights}
    assert tuple(net(torch.randn(2, 3, 32, 32)).shape) == (2, 10)


def test_mixed_op_with_one_hot_alpha_is_that_op() -> None:
    torch.manual_seed(0)
    edge = MixedOp(4, stride=1).eval()
    x = torch.randn(2, 4, 8, 8)
    for k, name in enumerate(PRIMITIVES):
        weights = torch.zeros(8)
        weights[k] = 1.0
        assert torch.allclose(edge(x, weights), edge.ops[k](x)), name


@pytest.mark.parametrize("name", PRIMITIVES)
def test_every_op_keeps_or_halves_the_shape(name: str) -> None:
    x = torch.randn(2, 6, 8, 8)
    for stride, size in ((1, 8), (2, 4)):
        out = make_op(name, 6, stride=stride, affine=True)(x)
        assert tuple(out.shape) == (2, 6, size, size), (name, stride)


def test_unknown_op_is_one_line() -> None:
    with pytest.raises(ValueError, match="unknown operation 'conv_9x9'; expected one of none"):
        make_op("conv_9x9", 4, stride=1, affine=True)


@pytest.mark.parametrize("genotype", ["darts_v1", "darts_v2"])
def test_darts_net_exports_with_parity(tmp_path: Path, genotype: str) -> None:
    torch.manual_seed(0)
    net = darts_net(num_classes=10, genotype=genotype, cells=4, channels=8, auxiliary=True).eval()
    x = torch.randn(3, 3, 32, 32)
    path = tmp_path / "net.onnx"
    result = export_onnx(net, path, input_size=(3, 32, 32), check_batch=3)
    assert result.max_abs_diff < 1e-4, result  # measured ~3e-6 (ORT vs torch, seeded input)
    got = ort_session(path, threads=1).run(None, {"input": x.numpy()})[0]
    with torch.no_grad():
        diff = float((torch.from_numpy(got) - net(x)).abs().max())
    assert diff < 1e-4, diff


def test_darts_net_auxiliary_and_drop_path() -> None:
    torch.manual_seed(0)
    net = darts_net(genotype="darts_v2", cells=3, channels=8, auxiliary=True, drop_path=0.3)
    x, y = torch.randn(4, 3, 32, 32), torch.tensor([0, 1, 2, 3])
    net.train()
    out = net(x)
    assert net.aux_logits is not None and net.aux_logits.shape == out.shape
    net.eval()
    net(x)
    assert net.aux_logits is None  # eval: no auxiliary head, no drop-path
    assert torch.equal(net(x), net(x))
    term = DartsRetrain(0.4, None, lambda o, b: torch.nn.functional.cross_entropy(o, b[1]))
    term.on_epoch_start(net, 0, 10)
    assert net.drop_path_prob == 0.0
    term.on_epoch_start(net, 9, 10)
    assert net.drop_path_prob == pytest.approx(0.27)  # DARTS: drop_path · epoch / epochs
    net.train()
    out = net(x)
    extra = term.loss(net, (x, y), out)
    assert extra is not None
    expected = 0.4 * torch.nn.functional.cross_entropy(net.aux_logits, y)
    assert torch.allclose(extra, expected)


def test_darts_net_artifact_rebuilds_from_the_genotype_dict(tmp_path: Path) -> None:
    genotype = NAMED_GENOTYPES["darts_v1"].to_dict()
    handle = SlimModel.build(
        "darts_net",
        num_classes=10,
        input_size=(3, 32, 32),
        kwargs={"genotype": genotype, "cells": 3, "channels": 8},
    )
    handle.module.eval()
    save_artifact(handle, tmp_path / "m.slim.pt")
    again = load_artifact(tmp_path / "m.slim.pt").module.eval()
    x = torch.randn(2, 3, 32, 32)
    assert torch.equal(again(x), handle.module(x))
    assert count_params(again) == count_params(handle.module)
