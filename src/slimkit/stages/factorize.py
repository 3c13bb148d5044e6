"""The ``factorize`` stage: split eligible layers into two thin layers (Trained Rank Pruning).

Recipe form::

    - kind: factorize
      scheme: spatial        # spatial (VH: kh×1 then 1×kw) | channel (NC: kh×kw C→r then 1×1)
      rule: energy           # energy {energy} | relative {tau} | macs {macs_target} | target
      share: null            # target: this stage's cumulative share (default: the planner's)
      energy: 0.9            # keep >= e of the squared singular values per layer
      tau: 0.05              # relative: keep σ_i >= τ·σ_1
      macs_target: 0.5       # macs: the whole model keeps at most this fraction of its MACs
      rank_multiple: 16      # round ranks up (ONNX Runtime's blocked convs want multiples of 16)
      max_cost_ratio: 0.8    # factorize a layer only if it then costs <= 0.8 x its dense MACs
      layers: null           # null: k×k convs except the first (and linears if include_linear)
      include_linear: false
      include_strided: true

Ranks come from the singular values of each layer's matrix view (:mod:`slimkit.lowrank.plan`);
the edit ``factorize`` ({layer: rank}, scheme) is recorded, so saved artifacts rebuild the
two-layer structure. After TRP training the spectra have a clear gap and the rank barely depends
on the threshold (digest §1.11); on a densely trained model this is post-hoc SVD factorization,
the paper's baseline. Rule ``target`` takes this stage's share of the recipe's ``target:``
(:mod:`slimkit.target.plan`) and finds the largest common energy that fits it (MACs in closed
form, parameters or ONNX Runtime latency measured on factorized copies), or stops with one line
naming the closest reachable value. The stage evaluates the factorized model (top-1 without fine-tuning).

Report fields: ``scheme``, ``rule``, ``threshold`` (e or τ; for ``macs`` the energy found),
``ranks`` (factorized layer → rank), ``full_ranks``, ``kept_dense`` (eligible layers whose
factorization would not pay), ``macs_per_layer`` ({layer: [before, after]}),
``params_before/after``, ``macs_before/after``, ``top1``; plot ``factorize_stage<i>.png``.
"""

from __future__ import annotations

from typing import Any

from slimkit.lowrank import plan_factorization
from slimkit.lowrank.plots import plot_factorized_macs
from slimkit.measure import count_macs, count_params, macs_by_module
from slimkit.stages.config import FactorizeStageConfig
from slimkit.stages.target import budget_record, target_budget


def _grouped_macs(per_module: dict[str, int], names: list[str]) -> dict[str, int]:
    """MACs of each named layer including its submodules (a factorized pair ``name.0/name.1``)."""
    return {
        n: sum(v for k, v in per_module.items() if k == n or k.startswith(n + ".")) for n in names
    }


def run_factorize(ctx: Any, cfg: FactorizeStageConfig) -> dict[str, Any]:
    """Choose ranks, factorize ``ctx.model`` through the recorded edit, evaluate the result."""
    handle = ctx.model
    module = handle.module.cpu()
    input_size = handle.input_size
    threshold = cfg.energy if cfg.rule == "energy" else cfg.tau
    budget = target_budget(ctx, cfg)
    plan = plan_factorization(
        module,
        input_size,
        rule="energy" if cfg.rule == "target" else cfg.rule,
        budget=budget,
        threshold=threshold,
        macs_target=cfg.macs_target,
        **cfg.plan_options(),
    )
    names = [p.name for p in plan.layers]
    params_before, macs_before = count_params(module), count_macs(module, input_size)
    before = _grouped_macs(macs_by_module(module, input_size), names)
    if plan.ranks:
        handle.module = module
        handle.apply_edit("factorize", ranks=plan.ranks, scheme=cfg.scheme)
    after = _grouped_macs(macs_by_module(handle.module, input_size), names)
    if ctx.dist.is_main:
        out = plot_factorized_macs(
            plan.as_dicts(), ctx.run_dir, f"factorize_stage{ctx.stage_index}.png"
        )
        ctx.final.plots.extend(p.name for p in out)
    record: dict[str, Any] = {
        "scheme": cfg.scheme,
        "rule": cfg.rule,
        **budget_record(budget, handle.module, input_size),
        "threshold": plan.threshold,
        "ranks": plan.ranks,
        "full_ranks": {p.name: p.max_rank for p in plan.layers},
        "kept_dense": [p.name for p in plan.layers if not p.factorize],
        "macs_per_layer": {n: [before[n], after[n]] for n in names},
        "params_before": params_before,
        "params_after": count_params(handle.module),
        "macs_before": macs_before,
        "macs_after": count_macs(handle.module, input_size),
    }
    ctx.model.module = handle.module.to(ctx.device)
    result = ctx.evaluate("eval factorized")
    record.update(result.record())
    ctx.echo(
        f"factorized {len(plan.ranks)}/{len(names)} layers ({cfg.scheme}, {cfg.rule}); MACs "
        f"{macs_before:,} -> {record['macs_after']:,}; {result.describe()} without fine-tuning"
    )
    return record
