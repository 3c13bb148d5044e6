"""BN-scale sparsity term: subgradient and proximal updates against their definitions."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from slimkit.sparsity import BNScaleSparsity, BNSparsityConfig, bn_layers


def tiny_bn_model(channels: int = 8) -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, channels, 3),
        nn.BatchNorm2d(channels),
        nn.ReLU(),
        nn.Conv2d(channels, 4, 1),
        nn.BatchNorm2d(4),
    )


def loss_of(model: nn.Module) -> torch.Tensor:
    torch.manual_seed(1)
    return model(torch.randn(4, 3, 6, 6)).pow(2).mean()


def test_l1_subgradient_equals_autograd_of_penalty() -> None:
    lam = 1e-2
    model = tiny_bn_model()
    reference = tiny_bn_model()
    term = BNScaleSparsity(BNSparsityConfig(method="subgradient", penalty="l1", lam=lam), model)
    loss_of(model).backward()
    term.before_step(model)
    gammas = [m.weight for _, m in bn_layers(reference)]
    (loss_of(reference) + lam * sum(g.abs().sum() for g in gammas)).backward()
    for (_, a), (_, b) in zip(bn_layers(model), bn_layers(reference), strict=True):
        torch.testing.assert_close(a.weight.grad, b.weight.grad)


def test_nonconvex_subgradients_match_their_formulas_and_are_guarded_at_zero() -> None:
    """Digest §4.2: ℓp adds λ·p·sign(γ)|γ|^(p-1) (0 at γ = 0 instead of 0/0); transformed ℓ1
    adds λ·a(a+1)·sign(γ)/(a+|γ|)²."""
    lam, p, a = 1e-3, 0.5, 2.0
    for penalty, kwargs, formula in [
        ("lp", {"p": p}, lambda g: p * g.sign() * g.abs().clamp(min=1e-30) ** (p - 1)),
        ("tl1", {"a": a}, lambda g: a * (a + 1) * g.sign() / (a + g.abs()) ** 2),
    ]:
        model = tiny_bn_model()
        with torch.no_grad():
            bn_layers(model)[0][1].weight[:3] = 0.0
            bn_layers(model)[0][1].weight[3] = -0.25
        cfg = BNSparsityConfig(
            method="subgradient", penalty=penalty, penalty_kwargs=kwargs, lam=lam
        )
        term = BNScaleSparsity(cfg, model)
        gammas = [m.weight.detach().clone() for _, m in bn_layers(model)]
        loss_of(model).backward()
        task_grads = [m.weight.grad.clone() for _, m in bn_layers(model)]
        term.before_step(model)
        for (_, m), g, task in zip(bn_layers(model), gammas, task_grads, strict=True):
            added = m.weight.grad - task
            assert torch.isfinite(added).all()
            want = torch.where(g == 0, torch.zeros_like(g), lam * formula(g))
            torch.testing.assert_close(added, want, rtol=1e-4, atol=1e-9)


def brute_argmin(f, lo: float = -3.0, hi: float = 3.0, n: int = 600_001) -> float:
    grid = torch.linspace(lo, hi, n, dtype=torch.float64)
    return float(grid[torch.argmin(f(grid))])


def test_proximal_updates_match_brute_force_argmins() -> None:
    """Digest §8.1.5: with plain SGD, the γ-update is argmin <g,γ> + α/2(γ-γ0)² + β/2(γ-ξ)² and
    the ξ-update is argmin λ|ξ| + β/2(γ-ξ)² + α/2(ξ-ξ0)²."""
    lr, lam, beta = 0.1, 0.3, 4.0
    alpha = 1 / lr
    model = tiny_bn_model(channels=3)
    cfg = BNSparsityConfig(method="proximal", penalty="l1", lam=lam, beta=beta, xi_init="gamma")
    term = BNScaleSparsity(cfg, model)
    bn = bn_layers(model)[0][1]
    with torch.no_grad():
        for m in bn_layers(model):
            m[1].weight.copy_(torch.linspace(0.2, 0.9, m[1].weight.numel()))
    term.on_train_start(model)
    term.xi = term.xi + torch.linspace(-0.5, 0.5, term.xi.numel())  # ξ0 != γ0
    xi0 = term.xi.clone()
    gamma0 = bn.weight.detach().clone().double()
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    loss_of(model).backward()
    g = bn.weight.grad.detach().clone().double()
    opt.step()
    term.after_step(model, lr)
    for c in range(3):
        x0, gc, g0 = float(xi0[c]), float(g[c]), float(gamma0[c])

        def gamma_objective(t, x0=x0, gc=gc, g0=g0):
            return gc * t + alpha / 2 * (t - g0) ** 2 + beta / 2 * (t - x0) ** 2

        assert abs(float(bn.weight.detach()[c]) - brute_argmin(gamma_objective)) < 2e-5
        new_gamma = float(bn.weight.detach()[c])

        def xi_objective(t, x0=x0, new_gamma=new_gamma):
            return lam * t.abs() + beta / 2 * (new_gamma - t) ** 2 + alpha / 2 * (t - x0) ** 2

        assert abs(float(term.xi[c]) - brute_argmin(xi_objective)) < 2e-5


def test_proximal_makes_exact_zeros_and_assigns_them_at_the_end() -> None:
    model = tiny_bn_model()
    cfg = BNSparsityConfig(method="proximal", penalty="tl1", penalty_kwargs={"a": 1.0}, lam=0.5)
    term = BNScaleSparsity(cfg, model)
    term.on_train_start(model)
    for _ in range(200):
        term.after_step(model, lr=0.1)
    assert term.sparsity() > 0.5
    term.on_train_end(model)
    gammas = torch.cat([m.weight.detach() for _, m in bn_layers(model)])
    assert torch.equal(gammas, term.xi) and int((gammas == 0).sum()) > 0
    state = term.state_dict()
    other = BNScaleSparsity(cfg, tiny_bn_model())
    other.load_state_dict(state)
    assert torch.equal(other.xi, term.xi)
    metrics = term.epoch_metrics(model)
    assert metrics["sparsity"] == term.sparsity() and len(term.history) == 1


def test_mcp_and_scad_apply_lambda_once() -> None:
    """MCP/SCAD carry their strength inside R: the term's lam becomes it and R is applied with
    weight 1. MCP's added gradient is sign(γ)(λ - |γ|/a) for |γ| <= aλ (digest §4.2), not
    λ·sign(γ)(λ - |γ|/a) as when λ multiplied a penalty that holds its own λ."""
    lam, a = 0.3, 3.0
    model = tiny_bn_model()
    with torch.no_grad():
        bn_layers(model)[0][1].weight.copy_(torch.linspace(-1.2, 1.2, 8))
    cfg = BNSparsityConfig(method="subgradient", penalty="mcp", penalty_kwargs={"a": a}, lam=lam)
    term = BNScaleSparsity(cfg, model)
    gamma = bn_layers(model)[0][1].weight.detach().clone()
    loss_of(model).backward()
    task = bn_layers(model)[0][1].weight.grad.clone()
    term.before_step(model)
    added = bn_layers(model)[0][1].weight.grad - task
    inside = gamma.abs() <= a * lam
    want = torch.where(inside, gamma.sign() * (lam - gamma.abs() / a), torch.zeros_like(gamma))
    torch.testing.assert_close(added, want)
    # a strength given twice is refused in one line
    for penalty in ("mcp", "scad"):
        with pytest.raises(ValueError, match="penalty_kwargs.lam: .* takes its strength"):
            BNSparsityConfig(penalty=penalty, penalty_kwargs={"lam": 1.0}, lam=lam)


def test_proximal_slimming_refuses_adaptive_optimizers_and_sgl_accepts_them() -> None:
    from slimkit.recipes import recipe_from_dict

    def recipe(term: dict, optimizer: str) -> object:
        return recipe_from_dict(
            {
                "model": {"name": "lenet5"},
                "stages": [
                    {"kind": "train", "epochs": 1, "optimizer": {"name": optimizer, "lr": 1e-3},
                     "terms": [term]},
                ],
            }
        )  # fmt: skip

    with pytest.raises(ValueError, match=r"terms\[0\] \(bn_sparsity\): method 'proximal'"):
        recipe({"name": "bn_sparsity", "method": "proximal"}, "adamw")
    recipe({"name": "bn_sparsity", "method": "proximal"}, "sgd")
    recipe({"name": "bn_sparsity", "method": "subgradient"}, "adamw")
    recipe({"name": "sgl"}, "adamw")  # the V update is exact, no step size involved
