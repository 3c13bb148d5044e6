"""Weight and filter sparsity by relaxed variable splitting (ℓ0 sparse group lasso).

Method of Bui, Park, Qi, Xin et al. (arXiv 1912.07868; digest §6), one training term (``sgl`` in
recipes). Every regularized layer ``l`` (weight ``W_l``) gets an auxiliary copy ``V_l`` that carries
the sparsity. Each step:

1. the optimizer steps on ``loss + scale·Σ_l [λ_g Σ_g √|g|·‖W_{l,g}‖₂ + (β/2)‖W_l − V_l‖²]``;
   the group ℓ2,1 term on W is differentiated by autograd (a subgradient; 0 at a zero group),
   V is held fixed (:meth:`GroupSplitting.loss`);
2. ``V_l ← prox_{(λ/β)·R}(W_l)`` with the exact proximal map of the chosen penalty R
   (:meth:`GroupSplitting.after_step`): ``l0`` (default, as in the official code: elementwise hard
   threshold at √(2λ/β)), ``l1`` (soft threshold at λ/β), ``group_l21``, ``l1_l21`` (classical
   sparse group lasso) or ``l0_l21`` (exact sort-and-scan prox), all from
   :mod:`slimkit.penalties`.

β is multiplied by ``beta_growth`` after every ``beta_every`` epochs (continuation: the coupling
tightens, the ℓ0 threshold shrinks). At the end of the stage W := V once W and V have met
(``final_assign``), so the model holds V's exact zeros. The forward pass always uses W.

Groups: the output channels (filters, ``W[o]`` of shape ``in·k·k``) of a conv; for a linear layer
the input units (columns ``W[:, i]`` of torch's ``(out, in)`` weight, i.e. the rows of the
``in × out`` weight of the official code) by default (``linear_groups: in``), or its output rows
(``linear_groups: out``). Both the autograd group term and the group penalties' prox use these
groups. Zero conv filters are removed by the prune stage's ``zero_filters`` rule; a zero
input-unit group of a linear layer lets the same rule remove the unit feeding it.

Reconstructed or chosen details, exposed as parameters:

- ``scale``: the official code divides every regularizer by the training-set size N; set
  ``scale: 1/N`` to reproduce (default 1.0). It cancels in the V-update.
- ``group_lam``: weight of the ℓ2,1 term on W; ``null`` (default) uses ``lam`` as the code does
  (same λ for both terms); 0 switches it off.
- ``v_init``: ``prox`` (default) starts V at ``prox(W)``; the code draws V ~ U(0, 1), which the
  first V-update overwrites but which pulls W toward noise on the first step.
- ``final_assign``: what the model holds at the end of the stage. ``auto`` (default): W := V when
  the two have met, ``‖W − V‖ / ‖W‖ <= assign_tolerance`` (0.05, our choice) over the regularized
  layers, else W is kept with a one-line notice (with a small coupling, e.g. ``scale: 1/N`` on a
  small data set, V can be almost all zeros while W is dense: copying V would destroy the model).
  ``w``: W is kept, as in the official code, which reports W and never assigns V. ``v``: always
  W := V. ``zeros``: only V's zeros are written into W; live weights keep their trained values.
  The gap and the choice are in the train stage's record (``sgl_w_v_gap``, ``sgl_final_assign``).
- The epoch count that drives the β schedule advances in :meth:`GroupSplitting.epoch_metrics`,
  which the trainer calls once at the end of each epoch (own loops: call :meth:`end_epoch`).

The V-update and the coupling are vectorized per layer (a handful of layers); no per-element or
per-group Python loop. V lives in the term's state and is checkpointed.

Example:
    >>> import torch
    >>> from slimkit.models import build_model
    >>> model = build_model("lenet5", in_channels=1)
    >>> cfg = GroupSplittingConfig(name="sgl", lam=0.01, beta=1.0)
    >>> term = GroupSplitting(cfg, model)
    >>> term.on_train_start(model)
    >>> term.after_step(model, lr=0.1)
    >>> term.on_train_end(model)
    >>> 0.0 < term.weight_sparsity(model) <= 1.0
    True
"""

from __future__ import annotations

import difflib
import math
from pathlib import Path
from typing import Any

import torch
from torch import nn

from slimkit.contexts import TermContext
from slimkit.engine.terms import TrainingTerm
from slimkit.penalties.registry import build_penalty
from slimkit.sparsity.config import GroupSplittingConfig

__all__ = [
    "GroupSplitting",
    "GroupSplittingConfig",
    "build_group_splitting",
    "default_layers",
    "plot_filters_per_layer",
    "plot_layer_sparsity",
]

_CONV = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
_GROUP_PENALTIES = {"group_l21", "l1_l21", "l0_l21"}


def default_layers(model: nn.Module) -> list[str]:
    """Every conv and linear layer except the first conv and the classifier (the last linear).

    Example:
        >>> from slimkit.models import build_model
        >>> default_layers(build_model("lenet5"))
        ['conv2', 'fc1', 'fc2']
    """
    named = [(n, m) for n, m in model.named_modules() if isinstance(m, (*_CONV, nn.Linear))]
    convs = [n for n, m in named if isinstance(m, _CONV)]
    linears = [n for n, m in named if isinstance(m, nn.Linear)]
    skip = set(convs[:1]) | set(linears[-1:])
    return [n for n, _ in named if n not in skip]


def _resolve_layers(model: nn.Module, names: list[str] | None) -> list[tuple[str, nn.Module]]:
    modules = dict(model.named_modules())
    allowed = [n for n, m in modules.items() if isinstance(m, (*_CONV, nn.Linear))]
    chosen = default_layers(model) if names is None else list(names)
    for name in chosen:
        if name not in allowed:
            near = difflib.get_close_matches(name, allowed, n=1)
            hint = f"did you mean {near[0]!r}? " if near else ""
            raise ValueError(
                f"sgl.layers: {name!r} is not a conv/linear layer of the model; {hint}"
                f"allowed: {', '.join(allowed)}"
            )
    if not chosen:
        raise ValueError("sgl.layers: no layer to regularize (the model needs a conv or linear)")
    return [(n, modules[n]) for n in chosen]


class GroupSplitting(TrainingTerm):
    """ℓ0 (or ℓ1, group, sparse group) sparsity on weights by relaxed variable splitting."""

    def __init__(self, cfg: GroupSplittingConfig, model: nn.Module) -> None:
        self.cfg = cfg
        self.penalty = build_penalty(cfg.penalty, **cfg.penalty_kwargs)
        layers = _resolve_layers(model, cfg.layers)
        self.names = [n for n, _ in layers]
        self.modules = [m for _, m in layers]
        self.v: list[torch.Tensor] | None = None
        self.epoch = 0
        self.history: list[dict[str, Any]] = []
        self._summary: dict[str, Any] = {}
        self._notices: list[str] = []

    # -- grouping -----------------------------------------------------------------------------

    def _transposed(self, module: nn.Module) -> bool:
        return isinstance(module, nn.Linear) and self.cfg.linear_groups == "in"

    def as_groups(self, module: nn.Module, w: torch.Tensor) -> torch.Tensor:
        """``w`` (a weight of ``module``'s shape) as ``(groups, group size)``; rows are groups."""
        return w.t() if self._transposed(module) else w.reshape(w.shape[0], -1)

    def _from_groups(self, module: nn.Module, g: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        return g.t() if self._transposed(module) else g.reshape(like.shape)

    # -- schedule and updates -----------------------------------------------------------------

    @property
    def beta(self) -> float:
        """Current β: ``beta · beta_growth^(epoch // beta_every)`` (``epoch`` = finished epochs)."""
        return self.cfg.beta * self.cfg.beta_growth ** (self.epoch // self.cfg.beta_every)

    @property
    def group_lam(self) -> float:
        """Weight of the ℓ2,1 term on W."""
        return self.cfg.lam if self.cfg.group_lam is None else self.cfg.group_lam

    def prox(self, module: nn.Module, w: torch.Tensor) -> torch.Tensor:
        """``prox_{(λ/β)R}(w)`` on ``module``'s groups, in float32 (digest §1, §6.2)."""
        step = self.cfg.lam / self.beta
        w32 = w.detach().float()
        if self.cfg.penalty in _GROUP_PENALTIES:
            g = self.penalty.prox(self.as_groups(module, w32).contiguous(), step)
            return self._from_groups(module, g, w32).contiguous()
        return self.penalty.prox(w32, step)

    def _update_v(self) -> None:
        self.v = [self.prox(m, m.weight) for m in self.modules]

    def on_train_start(self, model: nn.Module) -> None:
        self.epoch = 0
        self.history = []
        if self.cfg.v_init == "prox":
            self._update_v()
        else:
            self.v = [m.weight.detach().float().clone() for m in self.modules]

    def loss(
        self, model: nn.Module, batch: tuple[torch.Tensor, torch.Tensor], outputs: torch.Tensor
    ) -> torch.Tensor | None:
        if self.v is None:
            self.on_train_start(model)
        assert self.v is not None
        device = self.modules[0].weight.device
        with torch.autocast(device_type=device.type, enabled=False):
            total = torch.zeros((), device=device)
            lam_g, half_beta = self.group_lam, 0.5 * self.beta
            for module, v in zip(self.modules, self.v, strict=True):
                w = module.weight.float()
                if lam_g > 0:
                    g = self.as_groups(module, w)
                    weight = math.sqrt(g.shape[1]) if self.cfg.group_weights else 1.0
                    total = total + lam_g * weight * torch.linalg.vector_norm(g, dim=1).sum()
                total = total + half_beta * (w - v.to(w.device)).pow(2).sum()
            return self.cfg.scale * total

    def after_step(self, model: nn.Module, lr: float) -> None:
        self._update_v()

    def w_v_gap(self) -> float:
        """``‖W − V‖ / ‖W‖`` over the regularized layers (0: W and V have met)."""
        assert self.v is not None
        diff = sum(
            float((m.weight.detach().float() - v.to(m.weight.device)).pow(2).sum())
            for m, v in zip(self.modules, self.v, strict=True)
        )
        norm = sum(float(m.weight.detach().float().pow(2).sum()) for m in self.modules)
        return math.sqrt(diff / max(norm, 1e-30))

    def on_train_end(self, model: nn.Module) -> None:
        if self.v is None:
            return
        gap = self.w_v_gap()
        mode = self.cfg.final_assign
        self._notices = []
        if mode == "auto":
            mode = "v" if gap <= self.cfg.assign_tolerance else "w"
            if mode == "w":
                self._notices.append(
                    f"sgl: W and V have not met (||W - V|| / ||W|| = {gap:.3f} > "
                    f"assign_tolerance {self.cfg.assign_tolerance}); the model keeps W "
                    f"({self.weight_sparsity(model):.1%} zeros in V are not applied)"
                )
        self._summary = {"sgl_w_v_gap": round(gap, 6), "sgl_final_assign": mode}
        with torch.no_grad():
            for module, v in zip(self.modules, self.v, strict=True):
                w = module.weight
                v = v.to(device=w.device, dtype=w.dtype)
                if mode == "v":
                    w.copy_(v)
                elif mode == "zeros":
                    w.masked_fill_(v == 0, 0.0)

    def summary(self) -> dict[str, Any]:
        """``sgl_w_v_gap`` (``‖W − V‖ / ‖W‖`` at the end) and ``sgl_final_assign`` (what W got)."""
        return dict(self._summary)

    def notices(self) -> list[str]:
        return list(self._notices)

    def end_epoch(self) -> None:
        """Count one finished epoch (drives the β schedule)."""
        self.epoch += 1

    # -- reporting ----------------------------------------------------------------------------

    def _sparse(self, model: nn.Module | None) -> list[torch.Tensor]:
        if self.v is not None:
            return self.v
        return [m.weight.detach() for m in self.modules]

    def weight_sparsity(self, model: nn.Module | None = None) -> float:
        """Fraction of exact zeros over the regularized layers in V (the weights W gets at the
        end, W := V); before training starts, in W."""
        tensors = self._sparse(model)
        zeros = sum(int((t == 0).sum()) for t in tensors)
        return zeros / max(1, sum(t.numel() for t in tensors))

    def layer_stats(self, model: nn.Module | None = None) -> list[dict[str, Any]]:
        """Per regularized layer: name, weights, zero weights, filters (output channels), zero
        filters (output channels whose whole weight slice is 0 in V)."""
        stats = []
        for name, t in zip(self.names, self._sparse(model), strict=True):
            rows = t.reshape(t.shape[0], -1)
            stats.append(
                {
                    "layer": name,
                    "weights": t.numel(),
                    "zero_weights": int((t == 0).sum()),
                    "filters": rows.shape[0],
                    "zero_filters": int((rows == 0).all(dim=1).sum()),
                }
            )
        return stats

    def epoch_metrics(self, model: nn.Module) -> dict[str, float]:
        """``weight_sparsity`` (V), ``w_sparsity`` (exact zeros of W now), ``zero_filters``,
        ``beta`` (used during the finished epoch); then advances the epoch count."""
        layers = self.layer_stats(model)
        w_zero = sum(int((m.weight == 0).sum()) for m in self.modules)
        total = sum(m.weight.numel() for m in self.modules)
        record = {
            "weight_sparsity": self.weight_sparsity(model),
            "w_sparsity": w_zero / max(1, total),
            "zero_filters": sum(s["zero_filters"] for s in layers),
            "beta": self.beta,
        }
        self.history.append({**record, "layers": layers})
        self.end_epoch()
        return record

    def plots(self, out_dir: Path, tag: str = "") -> list[Path]:
        if not self.history:
            return []
        return plot_layer_sparsity(self.history, out_dir, f"sgl_sparsity{tag}.png")

    def state_dict(self) -> dict[str, Any]:
        return {"v": self.v, "epoch": self.epoch, "history": self.history}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.v = None if state["v"] is None else [t.clone() for t in state["v"]]
        self.epoch = int(state["epoch"])
        self.history = list(state["history"])


def plot_layer_sparsity(
    history: list[dict[str, Any]], out_dir: str | Path, filename: str = "sgl_sparsity.png"
) -> list[Path]:
    """Per-layer weight sparsity and zero filters (last epoch), and sparsity over epochs.

    Example:
        >>> import tempfile, pathlib
        >>> h = [{"weight_sparsity": 0.5, "beta": 1.0, "layers": [{"layer": "fc", "weights": 4,
        ...       "zero_weights": 2, "filters": 2, "zero_filters": 1}]}]
        >>> plot_layer_sparsity(h, pathlib.Path(tempfile.mkdtemp()))[0].name
        'sgl_sparsity.png'
    """
    import numpy as np

    from slimkit.report import new_figure, save_figure

    layers = history[-1]["layers"]
    names = [s["layer"] for s in layers]
    x = np.arange(len(names))
    fig, (ax_w, ax_f, ax_t) = new_figure(1, 3, figsize=(14.0, 4.0))
    ax_w.bar(x, [100 * s["zero_weights"] / max(1, s["weights"]) for s in layers])
    ax_w.set_xticks(x, names, rotation=45, fontsize=7)
    ax_w.set_ylabel("% exactly-zero weights")
    ax_w.set_title("weight sparsity per layer")
    ax_f.bar(x, [s["filters"] for s in layers], color="#bbbbbb", label="filters")
    ax_f.bar(x, [s["zero_filters"] for s in layers], color="#d62728", label="all-zero filters")
    ax_f.set_xticks(x, names, rotation=45, fontsize=7)
    ax_f.set_ylabel("output channels")
    ax_f.set_title("filters per layer")
    ax_f.legend()
    epochs = np.arange(1, len(history) + 1)
    ax_t.plot(epochs, [100 * h["weight_sparsity"] for h in history], marker="o")
    ax_t.set_xlabel("epoch")
    ax_t.set_ylabel("% exactly-zero weights (V)")
    ax_t.set_title("weight sparsity over training")
    ax_t.grid(alpha=0.3)
    return [save_figure(fig, Path(out_dir) / filename)]


def plot_filters_per_layer(
    before: dict[str, int],
    after: dict[str, int],
    zeros: dict[str, tuple[int, int]],
    out_dir: str | Path,
    filename: str = "filters_per_layer.png",
) -> list[Path]:
    """Output channels per conv/linear layer before and after filter surgery, and the share of
    exactly-zero weights per layer that remains after it.

    Example:
        >>> import tempfile, pathlib
        >>> out = pathlib.Path(tempfile.mkdtemp())
        >>> plot_filters_per_layer({"c": 8}, {"c": 5}, {"c": (10, 40)}, out)[0].name
        'filters_per_layer.png'
    """
    import numpy as np

    from slimkit.report import new_figure, save_figure

    names = list(before)
    x = np.arange(len(names))
    fig, (ax_c, ax_z) = new_figure(1, 2, figsize=(max(10.0, 0.5 * len(names) + 6), 4.0))
    ax_c.bar(x, [before[n] for n in names], color="#bbbbbb", label="before")
    ax_c.bar(x, [after.get(n, 0) for n in names], color="#1f77b4", label="after")
    ax_c.set_xticks(x, names, rotation=90, fontsize=7)
    ax_c.set_ylabel("output channels")
    ax_c.set_title("filters per layer")
    ax_c.legend()
    ax_z.bar(x, [100 * zeros[n][0] / max(1, zeros[n][1]) if n in zeros else 0 for n in names])
    ax_z.set_xticks(x, names, rotation=90, fontsize=7)
    ax_z.set_ylabel("% exactly-zero weights")
    ax_z.set_title("element-wise zeros kept after surgery")
    return [save_figure(fig, Path(out_dir) / filename)]


def build_group_splitting(
    cfg: GroupSplittingConfig, model: nn.Module, ctx: TermContext | None = None
) -> GroupSplitting:
    """Recipe factory of the ``sgl`` term."""
    return GroupSplitting(cfg, model)
