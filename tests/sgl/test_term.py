"""The ``sgl`` term: V-update = prox with λ/β, β schedule, W := V, state, sparsity, loss."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from slimkit.engine.terms import TERMS
from slimkit.models import build_model
from slimkit.penalties import build_penalty
from slimkit.sparsity import GroupSplitting, GroupSplittingConfig, default_layers


def _term(model: nn.Module, **kw) -> GroupSplitting:
    return GroupSplitting(GroupSplittingConfig(name="sgl", **kw), model)


def _lenet() -> nn.Module:
    torch.manual_seed(0)
    return build_model("lenet5", in_channels=1)


def test_registered_and_default_layers() -> None:
    model = _lenet()
    assert TERMS.get("sgl").config is GroupSplittingConfig
    assert default_layers(model) == ["conv2", "fc1", "fc2"]
    assert _term(model).names == ["conv2", "fc1", "fc2"]


def test_unknown_layer_names_nearest() -> None:
    with pytest.raises(ValueError, match="did you mean 'conv2'"):
        _term(_lenet(), layers=["conv3"])


def test_l0_v_update_is_hard_threshold_at_sqrt_2lam_over_beta() -> None:
    model = _lenet()
    term = _term(model, lam=0.002, beta=0.5)
    term.on_train_start(model)
    with torch.no_grad():
        for m in term.modules:
            m.weight.add_(0.01 * torch.randn_like(m.weight))
    term.after_step(model, lr=0.1)
    thr = math.sqrt(2 * 0.002 / 0.5)
    for m, v in zip(term.modules, term.v, strict=True):
        w = m.weight.detach()
        assert torch.equal(v, torch.where(w.abs() > thr, w, torch.zeros_like(w)))
    assert 0 < term.weight_sparsity() < 1


@pytest.mark.parametrize("penalty", ["l1", "group_l21", "l1_l21", "l0_l21"])
@pytest.mark.parametrize("linear_groups", ["in", "out"])
def test_v_update_equals_prox_with_lam_over_beta(penalty: str, linear_groups: str) -> None:
    model = _lenet()
    lam, beta = 0.01, 2.0
    term = _term(model, penalty=penalty, lam=lam, beta=beta, linear_groups=linear_groups)
    fc1 = model.fc1
    with torch.no_grad():  # shrink three groups of fc1 below the group threshold
        if linear_groups == "in":
            fc1.weight[:, :3] *= 0.01
        else:
            fc1.weight[:3] *= 0.01
    term.on_train_start(model)
    term.after_step(model, lr=0.1)
    pen = build_penalty(penalty)
    for m, v in zip(term.modules, term.v, strict=True):
        w = m.weight.detach()
        if penalty == "l1":
            expect = pen.prox(w, lam / beta)
        elif isinstance(m, nn.Linear) and linear_groups == "in":
            expect = pen.prox(w.t().contiguous(), lam / beta).t()  # groups = input units
        else:
            expect = pen.prox(w, lam / beta)  # groups = output channels (rows)
        torch.testing.assert_close(v, expect, rtol=0, atol=1e-7)
    v = term.v[1]
    groups = v.t() if linear_groups == "in" else v
    dead = (groups == 0).all(dim=1)
    if penalty != "l1":  # whole groups vanish, the three shrunk ones among them
        assert dead[:3].all()
    if penalty == "group_l21":  # and no other group at this strength
        assert int(dead.sum()) == 3


def test_beta_schedule_and_threshold_follow_epochs() -> None:
    model = _lenet()
    term = _term(model, lam=0.01, beta=2.0, beta_growth=1.25, beta_every=3)
    term.on_train_start(model)
    betas = []
    for _ in range(7):
        betas.append(term.beta)
        assert term.epoch_metrics(model)["beta"] == betas[-1]
    assert betas == pytest.approx([2.0] * 3 + [2.5] * 3 + [3.125])
    w = term.modules[0].weight.detach()
    term.after_step(model, lr=0.1)
    thr = math.sqrt(2 * 0.01 / (2.0 * 1.25**2))
    assert torch.equal(term.v[0], torch.where(w.abs() > thr, w, torch.zeros_like(w)))


def test_final_assign_v_copies_v() -> None:
    model = _lenet()
    term = _term(model, lam=0.002, beta=1.0, final_assign="v")
    term.on_train_start(model)
    with torch.no_grad():
        for m in term.modules:
            m.weight.mul_(1.5)  # W moves away from V
    v = [t.clone() for t in term.v]
    term.on_train_end(model)
    for m, t in zip(term.modules, v, strict=True):
        assert torch.equal(m.weight.detach(), t)
    assert model.conv1.weight.ne(0).all()  # unregularized layer untouched
    assert term.summary()["sgl_final_assign"] == "v" and not term.notices()


def _gap_after_scaling(factor: float, **kw):
    model = _lenet()
    term = _term(model, lam=0.002, beta=1.0, **kw)
    term.on_train_start(model)
    before = [m.weight.detach().clone() for m in term.modules]
    with torch.no_grad():
        for m, v in zip(term.modules, term.v, strict=True):
            m.weight.copy_(v + (m.weight - v) * factor)  # W at `factor` of its distance to V
    term.on_train_end(model)
    return term, before


def test_final_assign_auto_keeps_w_when_w_and_v_have_not_met() -> None:
    term, _ = _gap_after_scaling(1.0)
    gap = term.summary()["sgl_w_v_gap"]
    assert gap > 0.05  # measured 0.80: prox(W) of a fresh LeNet zeroes most small weights
    assert term.summary()["sgl_final_assign"] == "w"
    assert all(bool(m.weight.ne(0).all()) for m in term.modules)  # W kept, not V
    (notice,) = term.notices()
    assert "have not met" in notice and "\n" not in notice


def test_final_assign_auto_copies_v_when_met() -> None:
    term, _ = _gap_after_scaling(0.01)
    assert term.summary()["sgl_w_v_gap"] <= 0.05  # measured 0.013
    assert term.summary()["sgl_final_assign"] == "v" and not term.notices()
    for m, v in zip(term.modules, term.v, strict=True):
        assert torch.equal(m.weight.detach(), v)


def test_final_assign_w_is_the_official_code() -> None:
    term, before = _gap_after_scaling(0.01, final_assign="w")
    for m, b in zip(term.modules, before, strict=True):
        assert not torch.equal(m.weight.detach(), b) and m.weight.ne(0).any()
    assert term.summary()["sgl_final_assign"] == "w" and not term.notices()


def test_final_assign_zeros_keeps_live_weights() -> None:
    model = _lenet()
    term = _term(model, lam=0.002, beta=1.0, final_assign="zeros")
    term.on_train_start(model)
    before = [m.weight.detach().clone() * 1.5 for m in term.modules]
    with torch.no_grad():
        for m in term.modules:
            m.weight.mul_(1.5)
    term.on_train_end(model)
    for m, b, v in zip(term.modules, before, term.v, strict=True):
        assert torch.equal(m.weight.detach(), torch.where(v == 0, torch.zeros_like(b), b))


def test_state_round_trip() -> None:
    model = _lenet()
    term = _term(model, penalty="l0_l21", lam=0.01, beta=1.0, beta_every=1)
    term.on_train_start(model)
    term.epoch_metrics(model)
    term.after_step(model, lr=0.1)
    other = _term(model, penalty="l0_l21", lam=0.01, beta=1.0, beta_every=1)
    other.load_state_dict(term.state_dict())
    assert other.epoch == 1 and other.beta == term.beta == 1.25
    for a, b in zip(term.v, other.v, strict=True):
        assert torch.equal(a, b)
    assert other.history == term.history
    other.on_train_end(model)
    assert term.weight_sparsity() == other.weight_sparsity(model)


def test_weight_sparsity_and_layer_stats_values() -> None:
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Conv2d(2, 3, 1), nn.Flatten(), nn.Linear(3, 2))
    term = _term(model, layers=["1"], lam=0.0, group_lam=0.0)
    with torch.no_grad():
        model[1].weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 0.0], [2.0, 3.0]]).view(3, 2, 1, 1))
    term.on_train_start(model)  # lam = 0: V = W exactly
    assert term.weight_sparsity() == pytest.approx(3 / 6)
    stats = term.layer_stats()[0]
    assert stats == {
        "layer": "1",
        "weights": 6,
        "zero_weights": 3,
        "filters": 3,
        "zero_filters": 1,
    }
    metrics = term.epoch_metrics(model)
    assert metrics["weight_sparsity"] == pytest.approx(0.5)
    assert metrics["w_sparsity"] == pytest.approx(0.5) and metrics["zero_filters"] == 1


def test_loss_is_group_term_plus_coupling_and_autograd_gradient() -> None:
    model = nn.Sequential(nn.Conv2d(1, 3, 2), nn.Conv2d(3, 4, 2), nn.Flatten(), nn.Linear(4, 5))
    model.append(nn.Linear(5, 2))
    lam, glam, beta, scale = 0.02, 0.3, 1.5, 0.1
    term = _term(model, lam=lam, group_lam=glam, beta=beta, scale=scale)
    assert term.names == ["1", "3"]
    conv, fc = model[1], model[3]
    with torch.no_grad():
        conv.weight[2] = 0.0  # a zero group (also in V): gradient 0 there, no NaN
    term.on_train_start(model)
    loss = term.loss(model, (torch.zeros(1), torch.zeros(1)), torch.zeros(1))
    wc, wf = conv.weight, fc.weight
    expect = glam * (
        math.sqrt(12) * wc.reshape(4, -1).norm(dim=1).sum() + math.sqrt(5) * wf.norm(dim=0).sum()
    )
    coupling = ((wc - term.v[0]) ** 2).sum() + ((wf - term.v[1]) ** 2).sum()
    expect = expect + beta / 2 * coupling
    torch.testing.assert_close(loss, scale * expect)
    loss.backward()
    norms = wc.detach().reshape(4, -1).norm(dim=1).clamp_min(1e-30).view(4, 1, 1, 1)
    grad = scale * (glam * math.sqrt(12) * wc.detach() / norms + beta * (wc.detach() - term.v[0]))
    torch.testing.assert_close(wc.grad, grad)
    assert torch.isfinite(wc.grad).all() and wc.grad[2].abs().max() == 0


def test_bad_penalty_kwargs_is_one_line_value_error() -> None:
    with pytest.raises(ValueError, match="unknown argument"):
        GroupSplittingConfig(name="sgl", penalty="l0_l21", penalty_kwargs={"group_weigths": True})


def test_plots_written(tmp_path) -> None:
    model = _lenet()
    term = _term(model, lam=0.01, beta=1.0)
    term.on_train_start(model)
    term.epoch_metrics(model)
    paths = term.plots(tmp_path, tag="_stage0")
    assert [p.name for p in paths] == ["sgl_sparsity_stage0.png"] and paths[0].stat().st_size > 0
