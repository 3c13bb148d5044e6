"""The search loops: measured pass counts, α-only optimizer, DARTS-2nd's gradient against exact
autograd, and RARTS's Gauss–Seidel updates against their formulas."""

from __future__ import annotations

import copy
import io

import pytest
import torch
import torch.nn.functional as F
from torch.func import functional_call

from slimkit.nas.search import ArchitectureSearch, SearchSettings
from slimkit.nas.supernet import DartsSupernet


def _loss(out, batch):
    return F.cross_entropy(out, batch[1])


def _batches(seed: int = 0, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    train = (
        torch.randn(6, 3, 8, 8, generator=g, dtype=dtype),
        torch.randint(0, 3, (6,), generator=g),
    )
    val = (
        torch.randn(6, 3, 8, 8, generator=g, dtype=dtype),
        torch.randint(0, 3, (6,), generator=g),
    )
    return train, val


def _net(dtype=torch.float32) -> DartsSupernet:
    torch.manual_seed(0)
    net = DartsSupernet(num_classes=3, cells=3, channels=2, steps=2, multiplier=2).to(dtype)
    with torch.no_grad():  # a non-trivial α (the 1e-3 init makes every edge nearly uniform)
        for a in net.arch_parameters():
            a.normal_(0, 0.5)
    return net


@pytest.mark.parametrize(
    ("method", "variant", "passes"),
    [
        ("darts_1st", "reuse", 2),
        ("darts_2nd", "reuse", 5),
        ("rarts", "reuse", 2),
        ("rarts", "exact", 4),
    ],
)
def test_measured_passes_per_iteration(method: str, variant: str, passes: int) -> None:
    search = ArchitectureSearch(
        _net(), SearchSettings(method=method, variant=variant), _loss, epochs=1
    )
    train, val = _batches()
    for _ in range(3):
        search.step(train, val)
    assert search.passes == 3 * passes and search.iterations == 3


@pytest.mark.parametrize("method", ["darts_1st", "darts_2nd", "rarts"])
def test_only_alpha_goes_to_the_alpha_optimizer(method: str) -> None:
    net = _net()
    search = ArchitectureSearch(net, SearchSettings(method=method), _loss, epochs=2)
    arch = [p for g in search.arch_opt.param_groups for p in g["params"]]
    assert [id(p) for p in arch] == [id(net.alphas["normal"]), id(net.alphas["reduce"])]
    weights = {id(p) for g in search.w_opt.param_groups for p in g["params"]}
    assert weights == {id(p) for p in net.weight_parameters()}
    assert not weights & {id(p) for p in arch}
    if method == "rarts":
        assert search.net_y is not None and search.net_y.alphas is net.alphas  # one shared α
        y_ids = {id(p) for g in search.y_opt.param_groups for p in g["params"]}
        assert not y_ids & weights and not y_ids & {id(p) for p in arch}
    before = [a.detach().clone() for a in net.arch_parameters()]
    search.step(*_batches())
    assert all(not torch.equal(a, b) for a, b in zip(net.arch_parameters(), before, strict=True))
    search.end_epoch()
    assert search.w_opt.param_groups[0]["lr"] == pytest.approx(0.5 * (0.025 + 0.001))


def test_darts_2nd_gradient_matches_exact_autograd() -> None:
    """The finite-difference Hessian-vector product reproduces d/dα L_val(w − ξ∇_w L_train(w, α), α)."""
    net = _net(torch.float64)
    # r far below the official 0.01: on this tiny net a 0.01 step crosses ReLU/max-pool kinks
    # (FD vs exact: 2.6 at r=1e-2, 6e-7 at 1e-4, 6e-9 at 1e-5), so a small r checks the code
    settings = SearchSettings(method="darts_2nd", weight_decay=3e-4, xi=0.1, r=1e-5)
    search = ArchitectureSearch(net, settings, _loss, epochs=1)
    train, val = _batches(1, torch.float64)
    names = [n for n, _ in net.named_parameters() if not n.startswith("alphas.")]
    weights = [p for n, p in net.named_parameters() if not n.startswith("alphas.")]
    alphas = list(net.arch_parameters())
    # exact: differentiate through the virtual step (no momentum buffer at the first step)
    grads = torch.autograd.grad(_loss(net(train[0]), train), weights, create_graph=True)
    unrolled = {n: p - 0.1 * (g + 3e-4 * p) for n, p, g in zip(names, weights, grads, strict=True)}
    params = {**unrolled, "alphas.normal": alphas[0], "alphas.reduce": alphas[1]}
    params.update(dict(net.named_buffers()))
    exact = torch.autograd.grad(_loss(functional_call(net, params, (val[0],)), val), alphas)
    search._unrolled_arch_grad(train, val)
    for a, e in zip(alphas, exact, strict=True):
        rel = float((a.grad - e).norm() / e.norm())
        assert rel < 1e-6, rel  # measured ~1e-9 in float64


def test_rarts_updates_follow_gauss_seidel_formulas() -> None:
    lam, beta, lr = 2.0, 3.0, 0.05
    settings = SearchSettings(
        method="rarts", lr=lr, lr_min=lr, momentum=0.0, weight_decay=0.0, grad_clip=None,
        arch_grad_clip=None, lam=lam, beta=beta, variant="reuse",
    )  # fmt: skip
    net = _net()
    search = ArchitectureSearch(net, settings, _loss, epochs=1)
    train, val = _batches(2)
    search.step(train, val)  # now w != y
    w0 = [p.detach().clone() for p in net.weight_parameters()]
    y0 = [p.detach().clone() for p in search.net_y.weight_parameters()]
    ref_w, ref_y = copy.deepcopy(net), copy.deepcopy(search.net_y)
    g_w = torch.autograd.grad(_loss(ref_w(train[0]), train), list(ref_w.weight_parameters()))
    g_alpha_train = torch.autograd.grad(
        _loss(ref_w(train[0]), train), list(ref_w.arch_parameters())
    )
    captured: list[list[torch.Tensor]] = []
    step = search.arch_opt.step

    def capture_then_step() -> None:
        captured.append([a.grad.clone() for a in net.arch_parameters()])
        step()

    search.arch_opt.step = capture_then_step  # type: ignore[method-assign]
    search.step(train, val)
    # 1. w ← w − lr[λ∇_w L_train(w, α) + β(w − y)]
    for p, w, y, g in zip(net.weight_parameters(), w0, y0, g_w, strict=True):
        assert torch.allclose(p, w - lr * (lam * g + beta * (w - y)), atol=1e-6)
    # 2. y ← y − lr[∇_y L_val(y, α) + β(y − w_new)], with the new w (Gauss–Seidel)
    g_y = torch.autograd.grad(_loss(ref_y(val[0]), val), list(ref_y.weight_parameters()))
    g_alpha_val = torch.autograd.grad(_loss(ref_y(val[0]), val), list(ref_y.arch_parameters()))
    for q, y, g, w_new in zip(
        search.net_y.weight_parameters(), y0, g_y, net.weight_parameters(), strict=True
    ):
        assert torch.allclose(q, y - lr * (g + beta * (y - w_new)), atol=1e-6)
    # 3. reuse: α's gradient is λ∇_α L_train(w, α) + ∇_α L_val(y, α) from the same passes
    for got, gt, gv in zip(captured[0], g_alpha_train, g_alpha_val, strict=True):
        assert torch.allclose(got, lam * gt + gv, atol=1e-6)


def test_rarts_exact_variant_uses_the_new_weights() -> None:
    settings = SearchSettings(method="rarts", variant="exact", arch_grad_clip=None, lam=0.5)
    net = _net()
    search = ArchitectureSearch(net, settings, _loss, epochs=1)
    train, val = _batches(3)
    checks = []
    step = search.arch_opt.step

    def check_then_step() -> None:  # at the α-step: w and y are already updated
        ref_w, ref_y = copy.deepcopy(net), copy.deepcopy(search.net_y)
        g_val = torch.autograd.grad(_loss(ref_y(val[0]), val), list(ref_y.arch_parameters()))
        g_train = torch.autograd.grad(_loss(ref_w(train[0]), train), list(ref_w.arch_parameters()))
        for a, gv, gt in zip(net.arch_parameters(), g_val, g_train, strict=True):
            checks.append(torch.allclose(a.grad, gv + 0.5 * gt, atol=1e-6))
        step()

    search.arch_opt.step = check_then_step  # type: ignore[method-assign]
    search.step(train, val)
    assert checks == [True, True] and search.passes == 4


def test_state_dict_round_trip() -> None:
    settings = SearchSettings(method="rarts")
    a = ArchitectureSearch(_net(), settings, _loss, epochs=3)
    a.step(*_batches())
    a.end_epoch()
    b = ArchitectureSearch(_net(), settings, _loss, epochs=3)
    buffer = io.BytesIO()  # through a file, as a checkpoint (in memory the two would share
    torch.save(a.state_dict(), buffer)  # the optimizers' momentum tensors)
    buffer.seek(0)
    b.load_state_dict(torch.load(buffer, weights_only=True))
    assert b.epoch == 1 and b.passes == a.passes
    for p, q in zip(a.net_y.parameters(), b.net_y.parameters(), strict=True):
        assert torch.equal(p, q)
    a.step(*_batches(5))
    b.step(*_batches(5))
    for p, q in zip(a.net.parameters(), b.net.parameters(), strict=True):
        assert torch.allclose(p, q)


def test_bad_settings_are_one_line() -> None:
    with pytest.raises(ValueError, match="method: expected one of darts_1st, darts_2nd, rarts"):
        SearchSettings(method="darts")
    with pytest.raises(ValueError, match="variant: expected reuse or exact"):
        SearchSettings(variant="fast")
