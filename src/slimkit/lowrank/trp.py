"""Trained Rank Pruning as a training term (``trp`` in recipes; TRP digest §1.3–1.5).

Xu et al., "Trained Rank Pruning for Efficient Deep Neural Networks" (EMC2-NeurIPS 2019;
IJCAI-20 extended version). Every ``period`` (m) steps, before that step's forward pass, each
eligible layer (k×k convs except the first, optionally linears; :func:`eligible_layers`) is
replaced by its truncated SVD in the chosen matrix view (``channel`` NC or ``spatial`` VH): the
rank r is the smallest keeping a fraction ``energy`` (e) of the squared singular values
(:func:`energy_rank`), and ``W ← U_r Σ_r V_rᵀ`` folded back. The gradient of that step is taken at
the projected weights and applied to them (projected SGD); between projections the network is
full rank again. Ranks fall over training as long as the loss tolerates it (the "ratchet",
digest §1.3).

With ``nuclear`` λ > 0 (TRP+Nu), the nuclear-norm subgradient ``λ·U_r V_rᵀ`` of the projected
matrix is added to the gradient on projection steps only (digest §1.5): it lowers every kept σ by
the same amount, so the smallest ones fall below the energy cut at the next projection. With
``project: false`` the term is the nuclear-norm-only baseline: no projection, and the subgradient
uses the **full** thin SVD ``U Vᵀ`` (all nonzero σ), as the official baseline script does; the
truncated one of the TRP script in that mode shrinks only the top σ's and does not favour low rank
(a quirk not copied). The baseline script applies it every iteration: use ``period: 1``.

Momentum: the optimizer's momentum buffers are left untouched at projections (as in the official
code), and weight decay acts on the projected weights through the optimizer.

Scheduling differs from the code in one detail: projections fall on global steps ``t ≡ 0 (mod
m)`` (the code counts ``batch_idx``, which restarts every epoch; identical when m divides the
steps per epoch). Implemented with the term hooks: the projection for step t runs in
``after_step`` of step t−1 (and in ``on_train_start`` for t = 0), the subgradient in
``before_step`` of step t.

Logging: ranks per layer at every projection where they changed (a lossless run-length log, kept
in the term's state and written to ``metrics.jsonl`` as ``{"event": "trp_ranks", ...}`` lines in
recipe runs); per epoch ``trp_rank_fraction`` (Σ r / Σ full rank), ``trp_rank_mean`` and
``trp_projections``; singular-value spectra of ``spectra_layers`` layers at every epoch end. Plots:
``trp_ranks<tag>.png`` and ``trp_spectra<tag>.png``.

Example:
    >>> import torch
    >>> from slimkit.models import build_model
    >>> model = build_model("resnet8_tiny")
    >>> term = TrainedRankPruning(TRPConfig(energy=0.5, period=1), model)
    >>> term.on_train_start(model)
    >>> all(r < f for r, f in zip(term.last_ranks, term.full_ranks))
    True
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from slimkit.engine.terms import TrainingTerm
from slimkit.lowrank.config import TRPConfig
from slimkit.lowrank.factorize import eligible_layers, max_rank
from slimkit.lowrank.rank import energy_rank
from slimkit.lowrank.reshapes import from_matrix, to_matrix
from slimkit.lowrank.svd import grouped_svd
from slimkit.registry import suggest

__all__ = ["TRPConfig", "TrainedRankPruning", "build_trp", "nuclear_subgradient", "project"]


def project(matrix: torch.Tensor, energy: float) -> tuple[torch.Tensor, int]:
    """Best approximation of ``matrix`` whose rank keeps a fraction ``energy`` of Σσ².

    Example:
        >>> import torch
        >>> m = torch.diag(torch.tensor([3.0, 2.0, 0.1]))
        >>> p, r = project(m, 0.9)
        >>> r, torch.allclose(p, torch.diag(torch.tensor([3.0, 2.0, 0.0])))
        (2, True)
    """
    u, s, vh = torch.linalg.svd(matrix, full_matrices=False)
    r = int(energy_rank(s, energy))
    return (u[:, :r] * s[:r]) @ vh[:r], r


def nuclear_subgradient(matrix: torch.Tensor, rank: int | None = None) -> torch.Tensor:
    """``U_r V_rᵀ``: the minimum-norm subgradient of ‖M‖_* at a rank-r matrix (digest §1.5).

    ``rank=None`` uses every singular value above float rounding (the full thin ``U Vᵀ``).

    Example:
        >>> import torch
        >>> m = torch.randn(4, 3, dtype=torch.float64)
        >>> g = nuclear_subgradient(m)
        >>> bool(torch.isclose((g * m).sum(), torch.linalg.svdvals(m).sum()))
        True
    """
    u, s, vh = torch.linalg.svd(matrix, full_matrices=False)
    k = _numerical_rank(s, matrix.shape) if rank is None else rank
    return u[:, :k] @ vh[:k]


def _numerical_rank(s: torch.Tensor, shape: tuple[int, ...] | torch.Size) -> int:
    tol = float(s[0]) * max(shape) * torch.finfo(s.dtype).eps
    return int((s > tol).sum())


class TrainedRankPruning(TrainingTerm):
    """TRP: periodic low-rank projection plus optional nuclear-norm subgradient (see module)."""

    def __init__(self, cfg: TRPConfig, model: nn.Module, metrics: Any = None, stage: int = 0):
        self.cfg = cfg
        modules = dict(model.named_modules())
        if cfg.layers is None:
            names = eligible_layers(
                model, include_linear=cfg.include_linear, include_strided=cfg.include_strided
            )
        else:
            names = list(cfg.layers)
            allowed = eligible_layers(model, include_linear=True, skip_first=False)
            for n in names:
                if n not in allowed:
                    raise ValueError(
                        f"trp.layers: {n!r} is not a k×k conv (groups 1) or linear layer"
                        f"{suggest(n, allowed)}"
                    )
        if not names:
            raise ValueError("trp.layers: the model has no eligible layer (k×k conv or linear)")
        self.names = names
        self.modules = [modules[n] for n in names]
        self.full_ranks = [max_rank(m, cfg.scheme) for m in self.modules]
        picks = _spread(len(names), cfg.spectra_layers)
        self.spectra_names = [names[i] for i in picks]
        self.metrics = metrics
        self.stage = stage
        self.step = 0
        self.projections = 0
        self.pending: list[torch.Tensor] | None = None
        self.last_ranks: list[int] = []
        self.rank_log: list[dict[str, Any]] = []
        self.spectra: list[dict[str, Any]] = []

    # -- the projection -----------------------------------------------------------------------

    def _svd_step(self) -> None:
        """SVD every layer; project (TRP) and/or store the nuclear subgradient for this step."""
        cfg = self.cfg
        weights = [m.weight for m in self.modules]
        views = [to_matrix(w.detach().float(), cfg.scheme) for w in weights]
        grads: list[torch.Tensor] = []
        ranks: list[int] = []
        with torch.no_grad():
            for w, (u, s, vh) in zip(weights, grouped_svd(views), strict=True):
                r = int(energy_rank(s, cfg.energy))
                ranks.append(r)
                if cfg.project:
                    low = (u[:, :r] * s[:r]) @ vh[:r]  # U_r Σ_r V_rᵀ
                    w.copy_(from_matrix(low, w.shape, cfg.scheme))
                if cfg.nuclear > 0:
                    k = r if cfg.project else _numerical_rank(s, u.shape[:1] + vh.shape[1:])
                    g = u[:, :k] @ vh[:k]  # U_k V_kᵀ
                    grads.append(from_matrix(g, w.shape, cfg.scheme).to(w.dtype))
        self.pending = grads if cfg.nuclear > 0 else None
        self.projections += 1
        if ranks != self.last_ranks:
            entry = {"step": self.step, "ranks": ranks}
            self.rank_log.append(entry)
            if self.cfg.log_ranks and self.metrics is not None:
                named = dict(zip(self.names, ranks, strict=True))
                self.metrics.write(
                    {"event": "trp_ranks", "stage": self.stage, "step": self.step, "ranks": named}
                )
        self.last_ranks = ranks

    # -- hooks --------------------------------------------------------------------------------

    def on_train_start(self, model: nn.Module) -> None:
        self.step = 0
        self.projections = 0
        self.rank_log, self.spectra, self.last_ranks = [], [], []
        self._svd_step()  # step 0 is a projection step

    def before_step(self, model: nn.Module) -> None:
        if self.pending is None:
            return
        lam = self.cfg.nuclear
        for m, g in zip(self.modules, self.pending, strict=True):
            if m.weight.grad is None:
                m.weight.grad = torch.zeros_like(m.weight)
            m.weight.grad.add_(g.to(m.weight.grad.dtype), alpha=lam)
        self.pending = None

    def after_step(self, model: nn.Module, lr: float) -> None:
        self.step += 1
        if self.step % self.cfg.period == 0:
            self._svd_step()  # weights for the next step's forward pass

    def on_train_end(self, model: nn.Module) -> None:
        self.pending = None
        if self.cfg.final_projection and self.cfg.project:
            self._svd_step()
            self.pending = None

    # -- reporting ----------------------------------------------------------------------------

    def rank_fraction(self) -> float:
        """Σ r / Σ full rank at the last projection."""
        return sum(self.last_ranks) / max(1, sum(self.full_ranks))

    def epoch_metrics(self, model: nn.Module) -> dict[str, float]:
        if self.spectra_names:
            modules = dict(zip(self.names, self.modules, strict=True))
            views = [to_matrix(modules[n].weight.detach().float(), self.cfg.scheme)
                     for n in self.spectra_names]  # fmt: skip
            sigma = [s.cpu().tolist() for _, s, _ in grouped_svd(views)]
            self.spectra.append(
                {"step": self.step, "sigma": dict(zip(self.spectra_names, sigma, strict=True))}
            )
        return {
            "trp_rank_fraction": self.rank_fraction(),
            "trp_rank_mean": sum(self.last_ranks) / max(1, len(self.last_ranks)),
            "trp_projections": float(self.projections),
        }

    def plots(self, out_dir: Path, tag: str = "") -> list[Path]:
        from slimkit.lowrank.plots import plot_rank_history, plot_spectra

        paths: list[Path] = []
        if self.rank_log:
            paths += plot_rank_history(
                self.names,
                self.full_ranks,
                self.rank_log,
                self.step,
                out_dir,
                f"trp_ranks{tag}.png",
            )
        if self.spectra:
            paths += plot_spectra(self.spectra, out_dir, f"trp_spectra{tag}.png")
        return paths

    def state_dict(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "projections": self.projections,
            "pending": self.pending,
            "last_ranks": list(self.last_ranks),
            "rank_log": self.rank_log,
            "spectra": self.spectra,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.step = int(state["step"])
        self.projections = int(state["projections"])
        pending = state["pending"]
        self.pending = None if pending is None else [t.clone() for t in pending]
        self.last_ranks = list(state["last_ranks"])
        self.rank_log = list(state["rank_log"])
        self.spectra = list(state["spectra"])


def _spread(n: int, k: int) -> list[int]:
    """``k`` indices spread evenly over ``range(n)`` (first and last included)."""
    if k <= 0 or n == 0:
        return []
    if k >= n:
        return list(range(n))
    if k == 1:
        return [n // 2]
    return sorted({round(i * (n - 1) / (k - 1)) for i in range(k)})


def build_trp(cfg: TRPConfig, model: nn.Module, ctx: Any = None) -> TrainedRankPruning:
    """Recipe factory of the ``trp`` term (rank changes go to the run's ``metrics.jsonl``)."""
    metrics = getattr(ctx, "metrics", None)
    stage = int(getattr(ctx, "stage_index", 0))
    return TrainedRankPruning(cfg, model, metrics=metrics, stage=stage)
