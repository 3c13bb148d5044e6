"""The bilevel search loops: DARTS first order, DARTS second order and RARTS.

Each :class:`ArchitectureSearch` iteration takes one train batch and one val batch and updates the
supernet weights and α. The α tensors (:meth:`DartsSupernet.arch_parameters`) are the only ones
the α optimizer (Adam) sees; the weights go to SGD with momentum and weight decay, gradient norm
clipped, the learning rate annealed by cosine per epoch.

- ``darts_1st`` ([code] ``quark0/darts``, ``architect.py`` without ``--unrolled``): α-step on
  ∇_α L_val(w, α), then a w-step on ∇_w L_train(w, α). 2 forward+backward passes.
- ``darts_2nd`` ([code], ``--unrolled``): the virtual step w' = w − ξ(∇_w L_train + momentum +
  weight decay) with ξ the weight lr; α-gradient ∇_α L_val(w', α) − ξ ∇²_{α,w} L_train(w, α)
  ∇_{w'} L_val(w', α), the Hessian-vector product by central differences with step
  r/‖∇_{w'} L_val‖ (r = 0.01); then the w-step. 5 passes.
- ``rarts`` ([reconstructed], digest §1.3): two weight copies, w on the train split and y on the
  val split, sharing α; Gauss–Seidel block descent on
  L_β = L_val(y, α) + λ·L_train(w, α) + β/2·‖y − w‖², in the order w → y → α:
  w ← w − η[λ∇_w L_train(w, α) + β(w − y)]; y ← y − η[∇_y L_val(y, α) + β(y − w)];
  α ← α − η_α[∇_α L_val(y, α) + λ∇_α L_train(w, α)]. ``variant: exact`` recomputes the α-step
  losses at the new w and y (4 passes); ``variant: reuse`` takes ∇_α from the backward passes of
  the w- and y-steps (2 passes, the 60 % saving over DARTS-2nd the abstract reports). The
  coupling covers every learnable weight, never BN running statistics or α.

The counts of forward+backward passes are measured, not assumed: every loss the loop evaluates
(each one is back-propagated) increments :attr:`ArchitectureSearch.passes`.

Example:
    >>> import torch
    >>> from slimkit.nas.supernet import DartsSupernet
    >>> net = DartsSupernet(num_classes=3, cells=2, channels=4)
    >>> loss = lambda out, batch: torch.nn.functional.cross_entropy(out, batch[1])
    >>> search = ArchitectureSearch(net, SearchSettings(method="rarts"), loss, epochs=1)
    >>> batch = (torch.randn(4, 3, 16, 16), torch.tensor([0, 1, 2, 0]))
    >>> _ = search.step(batch, batch)
    >>> search.passes
    2
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.func import functional_call

from slimkit.nas.supernet import DartsSupernet

__all__ = ["METHODS", "ArchitectureSearch", "SearchSettings"]

METHODS = ("darts_1st", "darts_2nd", "rarts")

Batch = tuple[torch.Tensor, Any]
LossFn = Callable[[torch.Tensor, Batch], torch.Tensor]


@dataclass
class SearchSettings:
    """Hyper-parameters of a search; defaults are the official DARTS ones ([code]) and, for
    RARTS, our reconstruction ([reconstructed]: λ, β, the variant and the y learning rate are
    not published).

    Attributes:
        method: ``darts_1st``, ``darts_2nd`` or ``rarts``.
        lr, lr_min, momentum, weight_decay, grad_clip: SGD on the weights, cosine per epoch.
        arch_lr, arch_betas, arch_weight_decay: Adam on α.
        arch_grad_clip: clip α's gradient norm (``None``: no clipping).
        xi: DARTS-2nd virtual step (``None``: the current weight lr, as the official code).
        r: DARTS-2nd finite-difference scale (step r/‖v‖).
        lam: RARTS λ, weight of the train loss in the α (and w) objective.
        beta: RARTS β, coupling of the two weight copies (keep lr·β < 1).
        variant: RARTS ``reuse`` (2 passes) or ``exact`` (4 passes).
        y_lr_scale: the y copy's learning rate relative to w's.
    """

    method: str = "rarts"
    lr: float = 0.025
    lr_min: float = 0.001
    momentum: float = 0.9
    weight_decay: float = 3e-4
    grad_clip: float | None = 5.0
    arch_lr: float = 3e-4
    arch_betas: tuple[float, float] = (0.5, 0.999)
    arch_weight_decay: float = 1e-3
    arch_grad_clip: float | None = 10.0
    xi: float | None = None
    r: float = 0.01
    lam: float = 1.0
    beta: float = 1.0
    variant: str = "reuse"
    y_lr_scale: float = 1.0

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"method: expected one of {', '.join(METHODS)}, got {self.method!r}")
        if self.variant not in ("reuse", "exact"):
            raise ValueError(f"variant: expected reuse or exact, got {self.variant!r}")


class ArchitectureSearch:
    """One search run on a :class:`DartsSupernet` (see the module docstring).

    Args:
        net: the supernet (its weights are the w copy; α is shared with the y copy).
        settings: :class:`SearchSettings`.
        loss_fn: ``loss_fn(outputs, batch) -> scalar`` (the task loss).
        epochs: length of the cosine schedule, in epochs (:meth:`end_epoch` advances it).
    """

    def __init__(
        self, net: DartsSupernet, settings: SearchSettings, loss_fn: LossFn, *, epochs: int
    ) -> None:
        self.net, self.s, self.loss_fn, self.epochs = net, settings, loss_fn, epochs
        self.epoch = 0
        self.passes = 0
        self.iterations = 0
        self.alphas = list(net.arch_parameters())
        self.arch_opt = torch.optim.Adam(
            self.alphas,
            lr=settings.arch_lr,
            betas=settings.arch_betas,
            weight_decay=settings.arch_weight_decay,
        )
        self.w_opt = self._sgd(net.weight_parameters(), settings.lr)
        self.net_y: DartsSupernet | None = None
        self.y_opt: torch.optim.SGD | None = None
        if settings.method == "rarts":
            alphas = net.alphas
            del net.alphas  # deepcopy the weights only, then share the same α ParameterDict
            self.net_y = copy.deepcopy(net)
            net.alphas = alphas
            self.net_y.alphas = alphas
            self.y_opt = self._sgd(
                self.net_y.weight_parameters(), settings.lr * settings.y_lr_scale
            )

    def _sgd(self, params: Iterator[nn.Parameter], lr: float) -> torch.optim.SGD:
        s = self.s
        return torch.optim.SGD(params, lr=lr, momentum=s.momentum, weight_decay=s.weight_decay)

    @property
    def lr(self) -> float:
        """The weight learning rate of the current epoch (cosine from ``lr`` to ``lr_min``)."""
        s = self.s
        return s.lr_min + 0.5 * (s.lr - s.lr_min) * (
            1 + math.cos(math.pi * self.epoch / self.epochs)
        )

    def end_epoch(self) -> None:
        """Advance the cosine schedule by one epoch."""
        self.epoch += 1
        for opt, scale in ((self.w_opt, 1.0), (self.y_opt, self.s.y_lr_scale)):
            if opt is not None:
                for group in opt.param_groups:
                    group["lr"] = self.lr * scale

    def _loss(
        self, net: nn.Module, batch: Batch, params: dict[str, Any] | None = None
    ) -> torch.Tensor:
        self.passes += 1
        out = net(batch[0]) if params is None else functional_call(net, params, (batch[0],))
        return self.loss_fn(out, batch)

    def _clip(self, params: list[nn.Parameter], max_norm: float | None) -> None:
        if max_norm is not None:
            nn.utils.clip_grad_norm_(params, max_norm)

    def _arch_step(self) -> None:
        self._clip(self.alphas, self.s.arch_grad_clip)
        self.arch_opt.step()

    def _weight_step(
        self,
        net: nn.Module,
        opt: torch.optim.SGD,
        batch: Batch,
        scale: float = 1.0,
        partner: nn.Module | None = None,
        with_alpha: bool = False,
    ) -> torch.Tensor:
        """SGD step on ``scale · loss(batch)`` (+ β-coupling to ``partner``); with
        ``with_alpha`` the same backward also accumulates α's gradient."""
        params = list(net.weight_parameters())  # type: ignore[attr-defined]
        opt.zero_grad(set_to_none=True)
        loss = self._loss(net, batch)
        # DARTS's weight step leaves α alone; RARTS also collects α's gradient (reuse variant)
        inputs = params + self.alphas if with_alpha else params
        torch.autograd.backward(scale * loss, inputs=inputs)
        if partner is not None:  # + β(p − q), all tensors at once
            others = list(partner.weight_parameters())  # type: ignore[attr-defined]
            with torch.no_grad():
                grads = [p.grad for p in params]
                torch._foreach_add_(grads, torch._foreach_sub(params, others), alpha=self.s.beta)
        self._clip(params, self.s.grad_clip)
        opt.step()
        return loss.detach()

    def step(self, train: Batch, val: Batch) -> dict[str, float]:
        """One iteration on a train and a val batch; returns the losses it evaluated."""
        self.iterations += 1
        method = self.s.method
        if method == "rarts":
            return self._rarts(train, val)
        self.arch_opt.zero_grad(set_to_none=True)
        if method == "darts_1st":
            val_loss = self._loss(self.net, val)
            torch.autograd.backward(val_loss, inputs=self.alphas)
        else:
            val_loss = self._unrolled_arch_grad(train, val)
        self._arch_step()
        train_loss = self._weight_step(self.net, self.w_opt, train)
        return {"train_loss": float(train_loss), "val_loss": float(val_loss.detach())}

    @staticmethod
    def _grad(
        loss: torch.Tensor, inputs: list[nn.Parameter], retain_graph: bool = False
    ) -> list[torch.Tensor]:
        """∇ of ``loss`` for each input; zeros for an unused one (e.g. a supernet without
        normal cells leaves the normal α out of the graph)."""
        grads = torch.autograd.grad(loss, inputs, retain_graph=retain_graph, allow_unused=True)
        return [torch.zeros_like(p) if g is None else g for p, g in zip(inputs, grads, strict=True)]

    def _unrolled_arch_grad(self, train: Batch, val: Batch) -> torch.Tensor:
        """Set α.grad to DARTS's second-order gradient; return L_val(w', α)."""
        net, s = self.net, self.s
        names = [n for n, p in net.named_parameters() if not n.startswith("alphas.")]
        weights = [p for n, p in net.named_parameters() if not n.startswith("alphas.")]
        xi = s.xi if s.xi is not None else self.lr
        # virtual step w' = w - ξ(momentum·buf + ∇L_train + wd·w)  (official _compute_unrolled_model)
        grads = torch.autograd.grad(self._loss(net, train), weights)
        unrolled: dict[str, torch.Tensor] = {}
        with torch.no_grad():
            for name, p, g in zip(names, weights, grads, strict=True):
                buf = self.w_opt.state.get(p, {}).get("momentum_buffer")
                moment = buf * s.momentum if buf is not None else torch.zeros_like(p)
                unrolled[name] = p - xi * (moment + g + s.weight_decay * p)
        for tensor in unrolled.values():
            tensor.requires_grad_(True)
        params = {
            **unrolled,
            **{n: p for n, p in net.named_parameters() if n.startswith("alphas.")},
        }
        params.update(dict(net.named_buffers()))
        val_loss = self._loss(net, val, params)
        d_alpha = self._grad(val_loss, self.alphas, retain_graph=True)
        vector = torch.autograd.grad(val_loss, list(unrolled.values()))
        # ∇²_{α,w} L_train · v by central differences: (∇_α L(w + εv) − ∇_α L(w − εv)) / 2ε
        eps = s.r / torch.cat([v.flatten() for v in vector]).norm().clamp_min(1e-12)
        grads_at = []
        for sign in (1.0, -2.0):
            with torch.no_grad():
                for p, v in zip(weights, vector, strict=True):
                    p.add_(v, alpha=float(sign * eps))
            grads_at.append(self._grad(self._loss(net, train), self.alphas))
        with torch.no_grad():
            for p, v in zip(weights, vector, strict=True):
                p.add_(v, alpha=float(eps))  # back to w
            for alpha, d, gp, gn in zip(self.alphas, d_alpha, *grads_at, strict=True):
                alpha.grad = d - xi * (gp - gn) / (2 * eps)
        return val_loss.detach()

    def _rarts(self, train: Batch, val: Batch) -> dict[str, float]:
        s = self.s
        assert self.net_y is not None and self.y_opt is not None
        self.arch_opt.zero_grad(set_to_none=True)
        # 1. w-step on the train batch: λ∇_w L_train(w, α) + β(w − y)
        reuse = s.variant == "reuse"
        train_loss = self._weight_step(
            self.net, self.w_opt, train, s.lam, partner=self.net_y, with_alpha=reuse
        )
        # 2. y-step on the val batch with the new w: ∇_y L_val(y, α) + β(y − w)
        val_loss = self._weight_step(
            self.net_y, self.y_opt, val, 1.0, partner=self.net, with_alpha=reuse
        )
        if s.variant == "exact":  # 3. α-step at the new w and y (two more passes)
            self.arch_opt.zero_grad(set_to_none=True)
            loss = self._loss(self.net_y, val) + s.lam * self._loss(self.net, train)
            torch.autograd.backward(loss, inputs=self.alphas)
        # reuse: α.grad already holds λ∇_α L_train(w, α) + ∇_α L_val(y, α) from steps 1-2
        self._arch_step()
        return {"train_loss": float(train_loss), "val_loss": float(val_loss)}

    def coupling_distance(self) -> float:
        """‖y − w‖ over all weights (RARTS; 0 for DARTS)."""
        if self.net_y is None:
            return 0.0
        with torch.no_grad():
            sq = sum(
                float((p - q).pow(2).sum())
                for p, q in zip(
                    self.net.weight_parameters(), self.net_y.weight_parameters(), strict=True
                )
            )
        return math.sqrt(sq)

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue the search (checkpoints)."""
        return {
            "epoch": self.epoch,
            "passes": self.passes,
            "iterations": self.iterations,
            "net": self.net.state_dict(),
            "net_y": self.net_y.state_dict() if self.net_y is not None else None,
            "w_opt": self.w_opt.state_dict(),
            "y_opt": self.y_opt.state_dict() if self.y_opt is not None else None,
            "arch_opt": self.arch_opt.state_dict(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`."""
        self.epoch, self.passes, self.iterations = (
            state["epoch"],
            state["passes"],
            state["iterations"],
        )
        self.net.load_state_dict(state["net"])
        self.w_opt.load_state_dict(state["w_opt"])
        self.arch_opt.load_state_dict(state["arch_opt"])
        if self.net_y is not None:
            self.net_y.load_state_dict(state["net_y"])
            self.y_opt.load_state_dict(state["y_opt"])  # type: ignore[union-attr]
