"""The ``trp`` training term: projection, nuclear subgradient, schedule, nuclear-only, resume."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F

from slimkit.lowrank import TrainedRankPruning, TRPConfig, nuclear_subgradient, to_matrix
from slimkit.models import build_model


def _ranks(term: TrainedRankPruning) -> list[int]:
    return [
        int(torch.linalg.matrix_rank(to_matrix(m.weight.detach(), term.cfg.scheme), rtol=1e-4))
        for m in term.modules
    ]


@pytest.mark.parametrize("scheme", ["channel", "spatial"])
def test_projection_yields_rank_r(scheme: str) -> None:
    torch.manual_seed(0)
    model = build_model("resnet8_tiny")
    term = TrainedRankPruning(TRPConfig(energy=0.7, scheme=scheme), model)
    term.on_train_start(model)
    assert term.names == ["layer1.0.conv1", "layer1.0.conv2", "layer2.0.conv1", "layer2.0.conv2",
                          "layer3.0.conv1", "layer3.0.conv2"]  # fmt: skip
    assert _ranks(term) == term.last_ranks
    assert all(r < f for r, f in zip(term.last_ranks, term.full_ranks, strict=True))


def test_nuclear_subgradient_is_uv() -> None:
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(6, 3, generator=gen, dtype=torch.float64)
    m = a @ torch.randn(3, 9, generator=gen, dtype=torch.float64)  # rank 3
    u, s, vh = torch.linalg.svd(m, full_matrices=False)
    g = nuclear_subgradient(m)
    assert torch.allclose(g, u[:, :3] @ vh[:3])
    assert torch.isclose((g * m).sum(), s.sum())  # <G, M> = ||M||_*
    assert torch.isclose(torch.linalg.matrix_norm(g, 2), torch.tensor(1.0, dtype=torch.float64))
    eta = 0.1 * float(s[2])
    s_new = torch.linalg.svdvals(m - eta * g)
    assert torch.allclose(s_new[:3], s[:3] - eta) and float(s_new[3:].max()) < 1e-10


def _train(model, term, steps: int, x, y, lr: float = 0.05):
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=1e-4)
    grads = []
    for _ in range(steps):
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        before = [m.weight.grad.clone() for m in term.modules]
        term.before_step(model)
        grads.append([m.weight.grad - b for m, b in zip(term.modules, before, strict=True)])
        opt.step()
        term.after_step(model, lr)
    return opt, grads


def test_schedule_and_subgradient_on_projection_steps_only() -> None:
    torch.manual_seed(1)
    model = build_model("resnet8_tiny")
    x, y = torch.randn(8, 3, 32, 32), torch.randint(0, 10, (8,))
    lam = 0.01
    term = TrainedRankPruning(TRPConfig(energy=0.8, period=3, nuclear=lam), model)
    term.on_train_start(model)
    w0 = [to_matrix(m.weight.detach(), "spatial") for m in term.modules]
    expected = []
    for w, r in zip(w0, term.last_ranks, strict=True):
        u, _, vh = torch.linalg.svd(w, full_matrices=False)
        expected.append(lam * (u[:, :r] @ vh[:r]))
    _, added = _train(model, term, 7, x, y)
    for step, extra in enumerate(added):
        if step % 3 == 0:
            assert all(e.abs().max() > 0 for e in extra), step
        else:
            assert all(float(e.abs().max()) == 0.0 for e in extra), step
    for e, g in zip(added[0], expected, strict=True):
        assert torch.allclose(to_matrix(e, "spatial"), g, atol=1e-5)
    assert term.projections == 3  # steps 0, 3, 6


def test_nuclear_only_uses_full_uv_and_keeps_weights() -> None:
    torch.manual_seed(2)
    model = build_model("resnet8_tiny")
    w_before = [m.weight.detach().clone() for m in dict(model.named_modules()).values()
                if isinstance(m, torch.nn.Conv2d)]  # fmt: skip
    cfg = TRPConfig(project=False, nuclear=0.5, period=1, scheme="channel")
    term = TrainedRankPruning(cfg, model)
    term.on_train_start(model)
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    assert all(torch.equal(a, c.weight) for a, c in zip(w_before, convs, strict=True))
    for m in term.modules:
        m.weight.grad = torch.zeros_like(m.weight)
    term.before_step(model)
    for m in term.modules:
        w = to_matrix(m.weight.detach(), "channel")
        u, _, vh = torch.linalg.svd(w, full_matrices=False)
        assert torch.allclose(to_matrix(m.weight.grad, "channel"), 0.5 * (u @ vh), atol=1e-5)
    with pytest.raises(ValueError, match="nuclear-only"):
        TRPConfig(project=False)


def test_resume_round_trip_is_exact() -> None:
    torch.manual_seed(3)
    x, y = torch.randn(8, 3, 32, 32), torch.randint(0, 10, (8,))
    cfg = TRPConfig(energy=0.85, period=2, nuclear=1e-3)
    model = build_model("resnet8_tiny")
    term = TrainedRankPruning(cfg, model)
    term.on_train_start(model)
    opt, _ = _train(model, term, 3, x, y)  # leaves a projection pending for step 3
    state = copy.deepcopy((model.state_dict(), opt.state_dict(), term.state_dict()))
    _train_continue(model, opt, term, 3, x, y)
    model2 = build_model("resnet8_tiny")
    model2.load_state_dict(state[0])
    term2 = TrainedRankPruning(cfg, model2)
    term2.load_state_dict(state[2])
    opt2 = torch.optim.SGD(model2.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-4)
    opt2.load_state_dict(state[1])
    _train_continue(model2, opt2, term2, 3, x, y)
    for a, b in zip(model.state_dict().values(), model2.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    assert term.rank_log == term2.rank_log and term.step == term2.step == 6


def _train_continue(model, opt, term, steps, x, y) -> None:
    for _ in range(steps):
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        term.before_step(model)
        opt.step()
        term.after_step(model, 0.05)


def test_bad_layer_name() -> None:
    model = build_model("resnet8_tiny")
    with pytest.raises(ValueError, match=r"trp.layers: 'layer1.0.conv' .*did you mean"):
        TrainedRankPruning(TRPConfig(layers=["layer1.0.conv"]), model)
