"""SiDT dimension search: learnable gates on transformer dims, trained with a proximal penalty.

SiDT (Xue, Yang, Qi, Xin, arXiv 2204.07722; digest ``sidt_rarts_eye.md`` §2.3) prunes ViT
backbones by searching their dimensions. The abstract is all that is confirmed; this term
implements the digest's mechanism (A), [reconstructed]: real-valued gates g, initialised at 1,
multiply

- ``heads``: each attention head's output (the input columns of ``attn.proj``),
- ``mlp``: each MLP hidden unit (the input of ``mlp.fc2``),
- ``embed`` (ViT): each residual-stream dim, at the embedding (after the position embedding) and
  at every block's ``attn.proj`` and ``mlp.fc2`` outputs, so a zero gate keeps that dim exactly
  zero all along the residual stream;

and are trained jointly with the weights on ``task loss + λ Σ_u w_u R(g_u)``. The gates take a
proximal gradient step of their own after each optimizer step (plain SGD, step ``gate_lr``
following the stage's lr schedule, then ``prox`` of any elementwise penalty of
:mod:`slimkit.penalties`), so they reach exact zeros as in proximal slimming; ``w_u`` is the
number of parameters the dim costs relative to the mean over all gates with ``cost_weighted``
(off by default: on digits it drove every head gate towards 0 before any MLP unit reached 0,
and the model lost 8 points; ``w_u = 1`` then zeroed 474 of 576 MLP units at no loss).
Every read of a ViT's residual stream goes through a LayerNorm, so the network does not change
when all embed gates are scaled by one factor; ℓ1 would shrink them together towards 0 without
selecting any. With ``renorm_embed`` (default, [reconstructed], ours) the embed gates are divided
by their largest |g| after each prox step, which leaves the function unchanged (up to LayerNorm's
eps) and makes the prox act on the gates' relative size.
At init the gated model equals the ungated one (all gates 1, tested). At the end of the stage
the gates are folded into the weights exactly (``proj``/``fc2`` columns, the rows of every layer
that writes the residual stream, tokens and position embedding), the hooks are removed and the
gate values are saved as ``dim_gates.pt`` in the run directory for the ``prune`` stage
(``rule: dims``), which removes the zero-gated dims and, to meet a budget, those with the smallest
|g|. Gates live in the term (checkpointed with it), not in the model, so the model stays a plain
timm module.

Example:
    >>> import torch
    >>> from slimkit.models.vit import vit_tiny_digits
    >>> from slimkit.sparsity.config import DimSearchConfig
    >>> net = vit_tiny_digits().eval()
    >>> x = torch.randn(2, 3, 32, 32)
    >>> ref = net(x)
    >>> term = DimSearch(DimSearchConfig(), net)
    >>> torch.equal(net(x), ref)  # every gate is 1
    True
    >>> term.gates[("heads", "blocks.0")].data[1] = 0.0
    >>> term.on_train_end(net)   # fold into the weights, remove the hooks
    >>> bool(net.blocks[0].attn.proj.weight[:, 16:32].abs().sum() == 0)
    True
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import torch
from torch import nn

from slimkit.contexts import TermContext
from slimkit.engine.terms import TrainingTerm
from slimkit.measure import count_params
from slimkit.penalties.registry import build_penalty
from slimkit.sparsity.config import DimSearchConfig
from slimkit.surgery.transformer import (
    attention_blocks,
    check_kinds,
    prune_dims,
    searchable_dims,
)

__all__ = ["GATES_FILE", "DimSearch", "build_dim_search", "dim_costs", "load_gates"]

GATES_FILE = "dim_gates.pt"
Key = tuple[str, str]  # (kind, group name)


def dim_costs(model: nn.Module, kinds: list[str]) -> dict[Key, int]:
    """Parameters that removing one dim of each group saves (measured by surgery on a copy)."""
    dims = searchable_dims(model)
    total = count_params(model)
    costs = {}
    for kind in kinds:
        for name in dims[kind]:
            trial = copy.deepcopy(model)
            removal = {kind: [0]} if kind == "embed" else {kind: {name: [0]}}
            costs[(kind, name)] = total - count_params(prune_dims(trial, removal))
    return costs


def load_gates(path: Path) -> dict[Key, torch.Tensor]:
    """Read the gates a ``dim_search`` stage saved (``{(kind, name): tensor}``)."""
    raw = torch.load(path, map_location="cpu", weights_only=True)
    return {tuple(k.split("/", 1)): v for k, v in raw.items()}  # type: ignore[misc]


class DimSearch(TrainingTerm):
    """Gates on transformer dims (see the module docstring); hooks are installed at build."""

    def __init__(self, cfg: DimSearchConfig, model: nn.Module, out_dir: Path | None = None) -> None:
        self.cfg = cfg
        dims = searchable_dims(model)
        self.kinds = list(cfg.kinds) if cfg.kinds is not None else list(dims)
        check_kinds(model, self.kinds)
        self.blocks = attention_blocks(model)
        self.model = model
        self.penalty = build_penalty(cfg.penalty, **cfg.penalty_kwargs)
        self.gates: dict[Key, torch.Tensor] = {
            (kind, name): torch.ones(size, requires_grad=True)
            for kind in self.kinds
            for name, size in dims[kind].items()
        }
        if cfg.cost_weighted:
            costs = dim_costs(model, self.kinds)
            units = sum(costs[k] * g.numel() for k, g in self.gates.items())
            mean = units / sum(g.numel() for g in self.gates.values())
            self.weights = {k: costs[k] / mean for k in self.gates}
        else:
            self.weights = dict.fromkeys(self.gates, 1.0)
        self.base_lr: float | None = None
        self.out_dir = out_dir
        self.handles: list[Any] = []
        self.install()

    # -- hooks ----------------------------------------------------------------------------
    @staticmethod
    def _scale(gate: torch.Tensor, x: torch.Tensor, repeat: int = 1) -> torch.Tensor:
        g = gate if gate.device == x.device and gate.dtype == x.dtype else gate.to(x)
        return x * (g.repeat_interleave(repeat) if repeat > 1 else g)

    def install(self) -> None:
        """Register the forward hooks that multiply activations by the gates."""
        self.remove()
        for (kind, name), gate in self.gates.items():
            if kind == "heads":
                attn = self.blocks[name].attn
                d = attn.qkv.out_features // (3 * attn.num_heads)
                self.handles.append(attn.proj.register_forward_pre_hook(
                    lambda _m, args, g=gate, d=d: (self._scale(g, args[0], d), *args[1:])
                ))  # fmt: skip
            elif kind == "mlp":
                self.handles.append(self.blocks[name].mlp.fc2.register_forward_pre_hook(
                    lambda _m, args, g=gate: (self._scale(g, args[0]), *args[1:])
                ))  # fmt: skip
            else:
                writers = [self.model.norm_pre]
                for block in self.blocks.values():
                    writers += [block.attn.proj, block.mlp.fc2]
                for module in writers:
                    self.handles.append(module.register_forward_hook(
                        lambda _m, _args, out, g=gate: self._scale(g, out)
                    ))  # fmt: skip

    def remove(self) -> None:
        for handle in self.handles:
            handle.remove()
        self.handles = []

    # -- training -------------------------------------------------------------------------
    def on_train_start(self, model: nn.Module) -> None:
        with torch.no_grad():
            for gate in self.gates.values():
                gate.fill_(1.0)

    def after_step(self, model: nn.Module, lr: float) -> None:
        step = self.cfg.gate_lr * (lr / self.base_lr if self.base_lr else 1.0)
        distributed = torch.distributed.is_available() and torch.distributed.is_initialized()
        with torch.no_grad():
            for key, gate in self.gates.items():
                if gate.grad is None:
                    continue
                if distributed:
                    torch.distributed.all_reduce(gate.grad)
                    gate.grad /= torch.distributed.get_world_size()
                moved = gate - step * gate.grad
                gate.copy_(self.penalty.prox(moved, step * self.cfg.lam * self.weights[key]))
                gate.grad = None
                if key[0] == "embed" and self.cfg.renorm_embed:
                    peak = gate.abs().max()
                    if peak > 0:  # the network is invariant to the embed gates' scale
                        gate.div_(peak)

    @torch.no_grad()
    def fold(self, model: nn.Module) -> None:
        """Multiply the gates into the weights (exact), leaving the hooks' effect in the model."""
        for (kind, name), gate in self.gates.items():
            g = gate.detach()
            if kind == "heads":
                proj = self.blocks[name].attn.proj  # columns: heads x head_dim, head-major
                proj.weight.view(proj.out_features, g.numel(), -1).mul_(g[None, :, None])
            elif kind == "mlp":
                self.blocks[name].mlp.fc2.weight.mul_(g[None, :])
            else:
                self._fold_embed(model, g)

    def _fold_embed(self, model: nn.Module, g: torch.Tensor) -> None:
        if isinstance(model.norm_pre, nn.LayerNorm):
            model.norm_pre.weight.mul_(g)
            model.norm_pre.bias.mul_(g)
        else:  # norm_pre is the identity: scale everything summed into the stream's start
            norm = model.patch_embed.norm
            if isinstance(norm, nn.LayerNorm):
                norm.weight.mul_(g)
                norm.bias.mul_(g)
            else:
                proj = model.patch_embed.proj
                proj.weight.mul_(g[:, None, None, None])
                if proj.bias is not None:
                    proj.bias.mul_(g)
            for attr in ("cls_token", "reg_token", "dist_token", "pos_embed"):
                token = getattr(model, attr, None)
                if isinstance(token, nn.Parameter):
                    token.mul_(g)
        for block in self.blocks.values():
            for linear in (block.attn.proj, block.mlp.fc2):
                linear.weight.mul_(g[:, None])
                if linear.bias is not None:
                    linear.bias.mul_(g)

    def on_train_end(self, model: nn.Module) -> None:
        self.remove()
        self.fold(model)
        if self.out_dir is not None:
            torch.save(
                {f"{k}/{n}": g.detach().clone() for (k, n), g in self.gates.items()},
                self.out_dir / GATES_FILE,
            )

    # -- reporting ------------------------------------------------------------------------
    def zero_fraction(self) -> dict[str, float]:
        out = {}
        for kind in self.kinds:
            gates = [g for (k, _), g in self.gates.items() if k == kind]
            zeros = sum(int((g.detach() == 0).sum()) for g in gates)
            out[f"zero_{kind}"] = zeros / max(1, sum(g.numel() for g in gates))
        return out

    def epoch_metrics(self, model: nn.Module) -> dict[str, float]:
        return self.zero_fraction()

    def summary(self) -> dict[str, Any]:
        per_kind = {}
        for kind in self.kinds:
            gates = torch.cat([g.detach() for (k, _), g in self.gates.items() if k == kind])
            per_kind[kind] = {
                "dims": int(gates.numel()),
                "zero_gates": int((gates == 0).sum()),
                "mean_abs_gate": float(gates.abs().mean()),
            }
        return {"dim_search": per_kind}

    def plots(self, out_dir: Path, tag: str = "") -> list[Path]:
        from slimkit.sparsity.plots import plot_gate_values

        return [plot_gate_values(self.gates, self.kinds, out_dir / f"dim_gates{tag}.png")]

    def state_dict(self) -> dict[str, Any]:
        return {"gates": {f"{k}/{n}": g.detach().clone() for (k, n), g in self.gates.items()}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        with torch.no_grad():
            for key, value in state["gates"].items():
                self.gates[tuple(key.split("/", 1))].copy_(value)  # type: ignore[index]


def build_dim_search(
    cfg: DimSearchConfig, model: nn.Module, ctx: TermContext | None = None
) -> DimSearch:
    """Recipe factory of the ``dim_search`` term."""
    term = DimSearch(cfg, model, out_dir=ctx.path() if ctx is not None else None)
    recipe = getattr(ctx, "recipe", None)
    if recipe is not None:
        term.base_lr = float(recipe.stages[ctx.stage_index].optimizer.lr)  # type: ignore[union-attr]
    return term
