"""``lam: auto``: steer proximal slimming's λ so the exact zeros reach a MACs share on time.

Reconstructed (ours; no paper in ``../shared/papers`` gives a λ controller), every choice a
parameter of :class:`~slimkit.sparsity.config.LamControllerConfig`:

- prediction: under the proximal steps with the loss gradient ``g`` on γ held, ``|ξ|`` falls by
  ``(λ + sign(ξ)·g)/(1/lr + β)`` per step (from γ = ξ − g/β at the coupling's equilibrium,
  digest §5.2's steps 3-4), so a channel is predicted to be zero at the end of the ramp (step
  ``ramp·T`` of the stage's ``T``) when ``|ξ| <= (λ + sign(ξ)·ḡ)·Σ_t 1/(1/lr_t + β)`` over the
  steps left to it (at least one update interval; ``lr_t`` from the stage's schedule) and ``ḡ``
  the mean gradient since the last update, times ``1/(1 − μ)`` for SGD momentum μ (a steady
  gradient moves the weights that much faster). Past the ramp this is the exact zeros plus what the next interval shrinks;
- measured quantity: the fraction of the dense MACs left if the predicted zeros went the way the
  ``zeros`` rule takes them (:class:`ZeroMacsEstimate`: zero in every coupled BN, the prune
  stage's ``min_channels``/``round_to`` guard; MACs from the per-layer estimate of
  :class:`slimkit.surgery.select.MacEstimate`). Counting only today's exact zeros makes λ wind
  up while ξ travels to 0 and then collapse the network (measured: no zero for 5 of 10 epochs,
  then 97 % of the MACs gone at once); ignoring ``ḡ`` predicts zeros that the gradient keeps
  alive (measured: 0.80 of the MACs left for a 0.5 share);
- update every ``every`` steps: the λ whose predicted MACs equal the share is found by bisection
  on log λ in ``[lam_min, lam_max]`` (the prediction falls as λ rises), and λ moves to it by at
  most a factor ``max_step``: λ rises while the zeros fall short of the share and falls when
  they overshoot (zeros of ξ come back when λ falls). A fixed multiplicative gain on the error
  instead oscillates: with every |ξ| near the same value the prediction is a cliff in λ
  (measured: 1.0 ↔ 0.03 of the MACs on alternate updates).

Example:
    >>> from slimkit.models import build_model
    >>> from slimkit.sparsity.bn_scale import bn_layers
    >>> model = build_model("resnet8_tiny")
    >>> estimate = ZeroMacsEstimate(model, (3, 32, 32), [n for n, _ in bn_layers(model)])
    >>> estimate.fraction(torch.ones(estimate.size))  # no zeros: all the MACs stay
    1.0
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from slimkit.sparsity.config import LamControllerConfig

__all__ = ["LamController", "ZeroMacsEstimate"]


class ZeroMacsEstimate:
    """MACs fraction left by removing the exactly-zero channels of a scale vector.

    Args:
        model: the network the scale vector belongs to (copied; not modified).
        input_size: ``(C, H, W)``.
        bn_names: the BN layers in the order their scales are concatenated.
        min_channels, min_fraction, round_to: the prune stage's guard.
        reference: MACs that fractions are quoted against (default: the model's own).
    """

    def __init__(
        self,
        model: nn.Module,
        input_size: tuple[int, int, int],
        bn_names: list[str],
        *,
        min_channels: int = 1,
        min_fraction: float = 0.0,
        round_to: int = 1,
        reference: float | None = None,
    ) -> None:
        from slimkit.measure import count_macs
        from slimkit.sparsity.coupled import scale_positions
        from slimkit.surgery.guard import keep_count
        from slimkit.surgery.select import MacEstimate

        work, self.groups, self.index, self.size = scale_positions(model, input_size, bn_names)
        self.keeps = [
            keep_count(g.size, min_channels, min_fraction, g.step(round_to)) for g in self.groups
        ]
        self.round_to = round_to
        self.template = MacEstimate(work, self.groups, input_size)
        self.reference = float(reference or count_macs(model, input_size))

    def fraction(self, vector: torch.Tensor, goes: torch.Tensor | None = None) -> float:
        """MACs left / reference if every removable channel that ``goes`` (default: the exact
        zeros of ``vector``) in every coupled BN went."""
        from slimkit.surgery.guard import allowed_removal

        small = (vector.detach() == 0) if goes is None else goes
        zero = torch.cat([small.cpu(), torch.zeros(1, dtype=torch.bool)])
        estimate = copy.deepcopy(self.template)
        for g, (group, index) in enumerate(zip(self.groups, self.index, strict=True)):
            held = index >= 0
            is_zero = (zero[index] | ~held).all(0) & held.any(0)  # index -1 reads the False pad
            channels = is_zero.nonzero().flatten().tolist()
            n = allowed_removal(group.size, self.keeps[g], group.step(self.round_to), len(channels))
            if n:
                estimate.remove(g, channels[:n])
        return estimate.total / self.reference


class LamController:
    """λ for the next steps from the zeros so far (see the module docstring)."""

    def __init__(
        self,
        cfg: LamControllerConfig,
        estimate: ZeroMacsEstimate,
        share: float,
        steps_per_epoch: int,
        lr_at: Callable[[int], float] | None = None,
        momentum: float = 0.0,
    ) -> None:
        self.cfg = cfg
        self.estimate = estimate
        self.share = share
        self.steps_per_epoch = max(1, steps_per_epoch)
        self.lr_at = lr_at  # the stage's learning-rate schedule by step (None: lr held)
        self.push_scale = 1.0 / (1.0 - momentum)  # SGD momentum: a steady gradient acts 1/(1-μ)×
        self.lam = cfg.lam_init
        self.step = 0
        self.epochs = 1
        self.last_fraction = 1.0
        self.grad_sum: torch.Tensor | None = None
        self.grad_count = 0
        self.trace: list[tuple[int, float, float, float]] = []  # step, λ, fraction, schedule

    def horizon(self) -> int:
        """Steps from now to the end of the ramp (at least one update interval)."""
        ramp_end = self.cfg.ramp * self.epochs * self.steps_per_epoch
        return int(max(ramp_end - self.step, self.cfg.every))

    def shrink_steps(self, lr: float, beta: float) -> float:
        """``Σ 1/(1/lr_t + β)`` over the steps to the ramp's end: the shrinkage per unit of
        (λ + push) still to come, with the schedule's future learning rates when known."""
        n = self.horizon()
        if self.lr_at is None:
            return n / (1.0 / lr + beta)
        rates = (max(self.lr_at(t), 1e-12) for t in range(self.step, self.step + n))
        return sum(1.0 / (1.0 / r + beta) for r in rates)

    def update(
        self, vector: torch.Tensor, grad: torch.Tensor | None, lr: float, beta: float
    ) -> float:
        """Count one step (``vector`` = ξ after it, ``grad`` = the loss gradient on γ); every
        ``every`` steps predict the zeros and adjust λ. Returns λ."""
        self.step += 1
        if grad is not None:
            self.grad_sum = grad.clone() if self.grad_sum is None else self.grad_sum + grad
            self.grad_count += 1
        if self.step % self.cfg.every:
            return self.lam
        mean_grad = (
            self.grad_sum / self.grad_count
            if self.grad_sum is not None
            else torch.zeros_like(vector)
        )
        self.grad_sum, self.grad_count = None, 0
        push = torch.sign(vector) * mean_grad * self.push_scale
        steps = self.shrink_steps(lr, beta)

        def predicted(lam: float) -> float:  # MACs left at the ramp end with λ held
            goes = (vector == 0) | (vector.abs() <= (lam + push) * steps)
            return self.estimate.fraction(vector, goes)

        lo, hi = math.log(self.cfg.lam_min), math.log(self.cfg.lam_max)
        if predicted(math.exp(hi)) > self.share:
            wanted = hi
        else:
            for _ in range(self.cfg.iters):
                mid = 0.5 * (lo + hi)
                lo, hi = (mid, hi) if predicted(math.exp(mid)) > self.share else (lo, mid)
            wanted = hi
        step = self.cfg.max_step
        self.lam = min(self.lam * step, max(self.lam / step, math.exp(wanted)))
        self.last_fraction = predicted(self.lam)
        self.trace.append((self.step, self.lam, self.last_fraction, self.share))
        return self.lam

    def state_dict(self) -> dict[str, Any]:
        return {"lam": self.lam, "step": self.step, "trace": list(self.trace)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.lam = float(state["lam"])
        self.step = int(state["step"])
        self.trace = [tuple(t) for t in state["trace"]]
