"""Channel sparsity on BatchNorm scales: network slimming, nonconvex and proximal slimming.

Three methods, one training term (``bn_sparsity`` in recipes), selected by ``method``:

- ``subgradient``: Network Slimming (Liu et al., ICCV 2017; digest §3.1-3.2): after backward,
  ``λ·∂R(γ)`` is added to the gradient of every BN scale γ. With ``penalty: l1`` this is
  network slimming; with ``lp`` (``p``) or ``tl1`` (``a``) it is nonconvex slimming
  (Bui et al., ISVC 2020 / IEEE Access 2021; digest §4.2). The ℓp subgradient is guarded at γ = 0
  (``eps``), where the authors' code divides 0 by 0.
- ``proximal``: Proximal Network Slimming (Bui et al., LOD 2023; digest §5.2). An auxiliary copy ξ
  of the scales carries the sparsity. After each optimizer step, with α = 1/lr (so α follows the
  schedule):  γ ← (α·γ̃ + β·ξ)/(α + β)  (step 3), then
  ξ ← prox_{(λ/(α+β))·R}((α·ξ + β·γ)/(α + β))  (step 4, with the new γ). R may be any penalty
  with a proximal operator (soft thresholding for ℓ1, the transformed-ℓ1 formula, ℓ1/2, ...),
  so ξ holds exact zeros. At the end of the stage γ := ξ (digest §5.3 recommendation).

The update is vectorized: all scales are concatenated into one vector per step (one fused
penalty evaluation), not a loop per channel. ξ lives in the term's state, so it is checkpointed
(the authors' code does not save it). Momentum and weight decay act through the optimizer only;
the averaging and prox steps bypass the momentum buffer, as in the official code.

Reconstructed details, exposed as parameters: ``xi_init`` (the code draws ξ ~ U(0.47, 0.53);
``gamma`` copies the current scales, which suits starting from a trained model) and
``gamma_init`` (network slimming initializes γ = 0.5 when training from scratch; ``null`` keeps the
model's values, the default, so pretrained models are not disturbed) and ``final_assign``
(``xi``: γ := ξ at the end, the digest's recommendation; ``zeros``: only the exact zeros of ξ are
written into γ and live channels keep their trained γ, which on short schedules avoids the
accuracy drop caused by the remaining γ - ξ = -∂L/∂γ / β gap of the live channels).

Example:
    >>> import torch
    >>> from slimkit.models import build_model
    >>> model = build_model("resnet8_tiny")
    >>> cfg = BNSparsityConfig(name="bn_sparsity", method="proximal", lam=0.5, beta=100.0,
    ...                        gamma_init=0.05, xi_init="gamma")
    >>> term = BNScaleSparsity(cfg, model)
    >>> term.on_train_start(model)
    >>> for _ in range(50):  # no data term: each prox shrinks ξ by λ/(1/lr + β) = 0.0045
    ...     term.after_step(model, lr=0.1)
    >>> term.on_train_end(model)
    >>> term.sparsity()  # every scale is an exact zero
    1.0
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from slimkit.contexts import TermContext
from slimkit.engine.terms import TrainingTerm
from slimkit.penalties.registry import build_penalty
from slimkit.sparsity.config import BNSparsityConfig
from slimkit.sparsity.controller import LamController, ZeroMacsEstimate

_BN_TYPES = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)
# |γ| histogram bins: [0, 1e-30) holds the exact zeros, then log-spaced bins from 1e-6 to 10
_HIST_EDGES = torch.cat([torch.tensor([0.0, 1e-30]), torch.logspace(-6, 1, 29)])


def bn_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """Affine BatchNorm layers of ``model`` in module order, with their qualified names."""
    return [
        (name, m)
        for name, m in model.named_modules()
        if isinstance(m, _BN_TYPES) and m.affine and m.weight is not None
    ]


# penalties whose strength is a parameter of R itself (MCP, SCAD: the threshold and the
# concave region both scale with it); the term's ``lam`` becomes that parameter and R is
# applied with weight 1, so λ acts once (not lam_term * lam_penalty)
STRENGTH_INSIDE = ("mcp", "scad")


class BNScaleSparsity(TrainingTerm):
    """Sparsity on BN scales by subgradient (NS, nonconvex NS) or proximal (proximal NS) steps."""

    def __init__(self, cfg: BNSparsityConfig, model: nn.Module) -> None:
        self.cfg = cfg
        if cfg.penalty in STRENGTH_INSIDE:  # one λ: the term's, inside R, weight 1
            strength = cfg.lam if cfg.lam > 0 else 1.0  # λ = 0: the term is off (weight 0)
            self.penalty = build_penalty(cfg.penalty, **cfg.penalty_kwargs, lam=strength)
            self.weight = 1.0 if cfg.lam > 0 else 0.0
        else:
            self.penalty = build_penalty(cfg.penalty, **cfg.penalty_kwargs)
            self.weight = cfg.controller.lam_init if cfg.lam == "auto" else cfg.lam
        self.controller: LamController | None = None  # lam: auto (set by the recipe factory)
        if cfg.method == "subgradient":  # a plugin penalty may not declare it in the catalog
            try:
                self.penalty.subgradient(torch.ones(1))
            except NotImplementedError:
                raise ValueError(
                    f"penalty '{cfg.penalty}' has no subgradient; use method: proximal"
                ) from None
        layers = bn_layers(model)
        if not layers:
            raise ValueError("bn_sparsity: the model has no affine BatchNorm layer to regularize")
        self.names = [name for name, _ in layers]
        self.modules = [m for _, m in layers]
        self.sizes = [m.weight.numel() for m in self.modules]
        self.xi: torch.Tensor | None = None
        self.history: list[dict[str, Any]] = []
        # grouping coupled/block: positions of each penalty group, one (groups, n) tensor per n
        # (set by the recipe factory, which knows the input size; see set_units)
        self.units: list[torch.Tensor] | None = None

    def set_units(self, model: nn.Module, input_size: tuple[int, int, int]) -> None:
        """Build the penalty groups of ``grouping: coupled | block`` by tracing ``model``."""
        from slimkit.sparsity.coupled import coupled_units

        if self.cfg.grouping != "channel":
            self.units = coupled_units(
                model, input_size, self.names, self.cfg.grouping, self.cfg.block
            )

    def _by_group(self, fn: Any, vector: torch.Tensor) -> torch.Tensor:
        """``fn`` (a group penalty's prox or subgradient) applied to each group's scales."""
        if self.units is None:
            return fn(vector)
        out = torch.empty_like(vector)
        for index in self.units:
            index = index.to(vector.device)
            out[index] = fn(vector[index])
        return out

    # -- helpers ------------------------------------------------------------------------------

    def _weights(self, model: nn.Module) -> list[torch.Tensor]:
        """The BN scale parameters (the layers found when the term was built on ``model``)."""
        return [m.weight for m in self.modules]

    def _gamma(self, model: nn.Module) -> torch.Tensor:
        """All scales as one float32 vector (one concatenation per step)."""
        return torch.cat([w.detach().reshape(-1) for w in self._weights(model)]).float()

    def _assign(self, model: nn.Module, flat: torch.Tensor) -> None:
        weights = self._weights(model)
        parts = torch.split(flat, self.sizes)
        with torch.no_grad():
            torch._foreach_copy_(
                weights, [p.view_as(w).to(w.dtype) for p, w in zip(parts, weights, strict=True)]
            )

    def _grad(self) -> torch.Tensor:
        """The loss gradient on every scale as one vector (zeros where there is none)."""
        return torch.cat(
            [
                (m.weight.grad if m.weight.grad is not None else torch.zeros_like(m.weight))
                .detach()
                .reshape(-1)
                .float()
                for m in self.modules
            ]
        )

    def sparse_vector(self, model: nn.Module | None = None) -> torch.Tensor:
        """The variable that carries the sparsity: ξ (proximal) or γ (subgradient)."""
        if self.cfg.method == "proximal" and self.xi is not None:
            return self.xi
        assert model is not None
        return self._gamma(model)

    # -- hooks --------------------------------------------------------------------------------

    def on_train_start(self, model: nn.Module) -> None:
        if self.cfg.gamma_init is not None:
            self._assign(model, torch.full((sum(self.sizes),), float(self.cfg.gamma_init)))
        if self.cfg.method == "proximal":
            gamma = self._gamma(model)
            if self.cfg.xi_init == "gamma":
                self.xi = gamma.clone()
            else:
                gen = torch.Generator().manual_seed(self.cfg.seed)
                u = torch.rand(gamma.numel(), generator=gen)
                self.xi = (self.cfg.xi_low + (self.cfg.xi_high - self.cfg.xi_low) * u).to(
                    gamma.device
                )

    def on_epoch_start(self, model: nn.Module, epoch: int, epochs: int) -> None:
        if self.controller is not None:
            self.controller.epochs = epochs

    def before_step(self, model: nn.Module) -> None:
        if self.cfg.method != "subgradient" or self.cfg.lam == 0:
            return
        weights = self._weights(model)
        sub = self.weight * self._by_group(
            lambda v: self.penalty.subgradient(v, eps=self.cfg.eps), self._gamma(model)
        )
        grads, parts = [], []
        for w, part in zip(weights, torch.split(sub, self.sizes), strict=True):
            if w.grad is None:
                w.grad = torch.zeros_like(w)
            grads.append(w.grad)
            parts.append(part.view_as(w).to(w.grad.dtype))
        torch._foreach_add_(grads, parts)

    def after_step(self, model: nn.Module, lr: float) -> None:
        if self.cfg.method != "proximal":
            return
        if self.xi is None:
            self.on_train_start(model)
        assert self.xi is not None
        alpha, beta = 1.0 / lr, self.cfg.beta
        current = self._gamma(model)
        grad = self._grad() if self.controller is not None else None
        self.xi = self.xi.to(current.device)
        gamma = (alpha * current + beta * self.xi) / (alpha + beta)  # step 3
        shrink = self.weight / (alpha + beta)
        self.xi = self._by_group(
            lambda v: self.penalty.prox(v, shrink),
            (alpha * self.xi + beta * gamma) / (alpha + beta),
        )
        self._assign(model, gamma)
        if self.controller is not None:
            self.weight = self.controller.update(self.xi, grad, lr, beta)

    def on_train_end(self, model: nn.Module) -> None:
        if self.cfg.method == "proximal" and self.xi is not None:
            if self.cfg.final_assign == "xi":
                self._assign(model, self.xi)  # γ := ξ, so the exact zeros are in the model
            else:  # only the exact zeros of ξ are carried into γ; live channels keep γ
                gamma = self._gamma(model)
                self._assign(model, torch.where(self.xi == 0, torch.zeros_like(gamma), gamma))

    # -- reporting ----------------------------------------------------------------------------

    def sparsity(self, model: nn.Module | None = None) -> float:
        """Fraction of exactly-zero entries of the sparse variable."""
        v = self.sparse_vector(model)
        return float((v == 0).float().mean())

    def epoch_metrics(self, model: nn.Module) -> dict[str, float]:
        v = self.sparse_vector(model).detach().abs().cpu()
        hist = torch.histogram(v.clamp(max=10.0), bins=_HIST_EDGES)[0]
        zero = int((v == 0).sum())
        record = {
            "sparsity": zero / v.numel(),
            "scales_below_1e-2": float((v < 1e-2).float().mean()),
            "zero_scales": zero,
        }
        if self.controller is not None:
            record["lam"] = self.weight
            record["zero_macs_fraction"] = self.controller.estimate.fraction(v)
        self.history.append({**record, "hist": hist.tolist()})
        return record

    def plots(self, out_dir: Path, tag: str = "") -> list[Path]:
        from slimkit.sparsity.plots import plot_scale_histograms

        if not self.history:
            return []
        label = "ξ (proximal)" if self.cfg.method == "proximal" else "γ"
        name = f"scale_histograms{tag}.png"
        out = plot_scale_histograms(self.history, _HIST_EDGES.tolist(), label, out_dir, name)
        if self.controller is not None and self.controller.trace:
            from slimkit.sparsity.plots import plot_lam_controller

            out += plot_lam_controller(self.controller.trace, out_dir, f"lam_controller{tag}.png")
        return out

    def state_dict(self) -> dict[str, Any]:
        state = {"xi": self.xi, "history": self.history}
        if self.controller is not None:
            state["controller"] = self.controller.state_dict()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.xi = state["xi"]
        self.history = list(state["history"])
        if self.controller is not None and "controller" in state:
            self.controller.load_state_dict(state["controller"])
            self.weight = self.controller.lam


def build_bn_sparsity(
    cfg: BNSparsityConfig, model: nn.Module, ctx: TermContext | None = None
) -> BNScaleSparsity:
    """Recipe factory of the ``bn_sparsity`` term (``lam: auto`` reads the run's target plan)."""
    term = BNScaleSparsity(cfg, model)
    if cfg.grouping != "channel":
        if ctx is None:
            raise ValueError(f"grouping: {cfg.grouping!r} needs the run's input size")
        term.set_units(model, ctx.input_size)
    if cfg.lam == "auto":
        plan = getattr(ctx, "target_plan", None)
        share = plan.next_prune(ctx.stage_index) if plan is not None and ctx is not None else None
        if share is None or ctx is None:
            raise ValueError(
                "lam: 'auto' needs a run with a target: section and a later prune stage with "
                "rule: target"
            )
        prune = ctx.recipe.stages[share.index]  # type: ignore[attr-defined]
        estimate = ZeroMacsEstimate(
            model,
            ctx.input_size,
            term.names,
            min_channels=prune.min_channels,
            min_fraction=prune.min_fraction,
            round_to=prune.round_to,
            reference=getattr(ctx, "initial", {}).get("macs"),
        )
        from slimkit.engine.optim import LRSchedule

        steps = len(ctx.loader("train"))  # type: ignore[arg-type]
        stage = ctx.recipe.stages[ctx.stage_index]  # type: ignore[attr-defined]
        lr_at = LRSchedule(stage.schedule, stage.optimizer.lr, steps, stage.epochs)
        term.controller = LamController(
            cfg.controller, estimate, share.share, steps, lr_at, stage.optimizer.momentum
        )
        ctx.echo(
            f"lam: auto: steering λ (from {cfg.controller.lam_init:g}) so the exact zeros leave "
            f"{share.share:.3f} of the dense MACs for stages[{share.index}] (prune)"
        )
    return term
