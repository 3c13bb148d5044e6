"""The ``prune`` stage with ``rule: dims``: remove transformer dimensions (SiDT), physically.

Recipe form::

    - kind: prune
      rule: dims
      budget: 0.4            # remove 40 % of the parameters (null: only zero-gated dims)
      budget_metric: params  # params | macs
      importance: gates      # gates (the dim_search term's |g|) | l1 (weight-magnitude baseline)
      allocation: per_layer  # per_layer (same fraction per group) | global (one ranking)
      kinds: null            # embed, heads, mlp (null: every kind the model has)

The chosen dims are first zeroed (heads and MLP units then contribute nothing, removed embed dims
are zero in the residual stream), then removed with :func:`slimkit.surgery.transformer.prune_dims`,
recorded as the artifact edit ``prune_dims``. Removing zeroed heads and MLP units is exact;
removing embed dims changes every LayerNorm's statistics, so the stage measures the change on a
batch of the val (else test) split and reports it (``output_change``: max |Δ out| / max |out| of
the searched module: the logits of a ViT/Swin classifier, the feature maps of a detector's
backbone).

On a model that only contains transformer blocks (an FCOS detector on a ``features_only`` Swin),
the searched module is the smallest submodule holding every block (``searched_module``) and the
budget is a fraction of *its* params or MACs: "40 % pruned" means 40 % of the backbone.

Report fields: ``rule``, ``importance``, ``allocation``, ``dims_before`` and ``dims_removed``
(per kind), ``exact_zero_gates``, ``params_before/after``, ``params_fraction_removed``,
``macs_before/after``, ``searched_module`` and ``searched_params_before/after``,
``output_change``, then the pruned model's metrics (before fine-tuning).
"""

from __future__ import annotations

import copy
from typing import Any

import torch

from slimkit.measure import count_macs, count_params
from slimkit.stages.config import PruneStageConfig
from slimkit.surgery.dim_select import dim_importance, removal_counts, select_dims
from slimkit.surgery.transformer import (
    DimSurgeryError,
    check_kinds,
    mask_dims,
    searchable_dims,
    searched_module,
)


def _gates(ctx: Any, kinds: list[str]) -> dict[tuple[str, str], torch.Tensor]:
    from slimkit.sparsity.dim_search import GATES_FILE, load_gates

    path = ctx.path(GATES_FILE)
    if not path.is_file():
        raise DimSurgeryError(
            "rule dims with importance: gates needs a train stage with the dim_search term "
            "before it (or use importance: l1)"
        )
    return load_gates(path)


def _probe_batch(ctx: Any) -> torch.Tensor:
    split = "val" if "val" in ctx.splits() else "test"
    batch = next(iter(ctx.loader(split)))
    return batch[0][:16].cpu()


def _flat_outputs(model: torch.nn.Module, part: str, probe: torch.Tensor) -> torch.Tensor:
    """The output of submodule ``part`` (all its tensors, flattened) when ``model`` runs."""
    captured: list[torch.Tensor] = []

    def grab(_m: Any, _args: Any, out: Any) -> None:
        items = out if isinstance(out, (list, tuple)) else [out]
        captured.extend(t.detach().flatten() for t in items if isinstance(t, torch.Tensor))

    handle = model.get_submodule(part).register_forward_hook(grab)
    try:
        model(probe)
    finally:
        handle.remove()
    return torch.cat(captured)


def run_prune_dims(ctx: Any, cfg: PruneStageConfig) -> dict[str, Any]:
    """Select, zero and physically remove transformer dims of ``ctx.model``; evaluate."""
    handle = ctx.model
    module = handle.module.cpu().eval()
    input_size = handle.input_size
    have = searchable_dims(module)
    kinds = list(cfg.kinds) if cfg.kinds is not None else list(have)
    check_kinds(module, kinds)
    gates = _gates(ctx, kinds) if cfg.importance == "gates" else None
    importance = dim_importance(module, kinds, cfg.importance, gates)
    zero_gates = sum(int((v == 0).sum()) for v in importance.values()) if gates else 0

    part, searched = searched_module(module)  # a detector: its backbone's transformer

    def cost(m: torch.nn.Module) -> float:
        sub = m.get_submodule(part)
        if cfg.budget_metric == "macs":
            return float(count_macs(sub, input_size))
        return float(count_params(sub))

    removal = select_dims(
        module, importance, budget=cfg.budget, allocation=cfg.allocation, cost=cost
    )
    params_before, macs_before = count_params(module), count_macs(module, input_size)
    searched_before = count_params(searched)
    probe = _probe_batch(ctx)
    with torch.no_grad():
        mask_dims(module, removal)
        masked_out = _flat_outputs(module, part, probe)
        handle.module = module
        handle.apply_edit("prune_dims", removal=copy.deepcopy(removal))
        pruned_out = _flat_outputs(handle.module.eval(), part, probe)
    change = float((pruned_out - masked_out).abs().max() / masked_out.abs().max().clamp_min(1e-12))
    removed = removal_counts(removal)
    params_after = count_params(handle.module)
    record: dict[str, Any] = {
        "rule": "dims",
        "importance": cfg.importance,
        "allocation": cfg.allocation,
        "budget": cfg.budget,
        "budget_metric": cfg.budget_metric,
        "dims_before": {k: sum(have[k].values()) for k in kinds},
        "dims_removed": {k: removed.get(k, 0) for k in kinds},
        "exact_zero_gates": zero_gates,
        "params_before": params_before,
        "params_after": params_after,
        "params_fraction_removed": 1.0 - params_after / params_before,
        "searched_module": part or type(module).__name__,
        "searched_params_before": searched_before,
        "searched_params_after": count_params(handle.module.get_submodule(part)),
        "macs_before": macs_before,
        "macs_after": count_macs(handle.module, input_size),
        "output_change": change,
    }
    ctx.model.module = handle.module.to(ctx.device)
    result = ctx.evaluate("eval pruned")
    record.update(result.record())
    summary = ", ".join(f"{k} {removed.get(k, 0)}/{record['dims_before'][k]}" for k in kinds)
    ctx.echo(
        f"pruned dims ({cfg.importance}, {cfg.allocation}): {summary}; params {params_before:,} -> "
        f"{params_after:,} ({record['params_fraction_removed']:.1%} removed); output change "
        f"{change:.2e}; {result.describe()} without fine-tuning"
    )
    return record
