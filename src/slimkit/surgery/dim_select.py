"""Which transformer dims to remove: importance (search gates or weight magnitude) and a budget.

Importance per dim: ``gates`` (|g| of the ``dim_search`` term) or ``l1`` (the magnitude baseline:
the ℓ1 norm of every weight that reads or writes the dim). Dims of importance exactly 0 are always
removed. With a ``budget`` (fraction of the model's parameters, or MACs, to remove), more dims go
in order of importance until the budget is met:

- ``per_layer`` (digest §2.3 default, [reconstructed]): every group (the embedding, each block's
  heads, each block's MLP) removes the same fraction r of its dims, its lowest first; r is the
  smallest that meets the budget (bisection).
- ``global``: one ranking over all groups of importance divided by its group's mean (per-group
  normalisation, since gates and weight norms of different kinds are not on one scale).

Each group keeps at least one dim. Costs are measured by surgery on a copy, so they are exact.

Example:
    >>> import torch
    >>> from slimkit.models.vit import vit_tiny_digits
    >>> net = vit_tiny_digits()
    >>> imp = dim_importance(net, ["heads", "mlp"], "l1")
    >>> removal = select_dims(net, imp, budget=0.2)
    >>> sorted(removal)
    ['heads', 'mlp']
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import torch
from torch import nn

from slimkit.measure import count_params
from slimkit.surgery.transformer import (
    DimSurgeryError,
    Removal,
    attention_blocks,
    prune_dims,
    searchable_dims,
)

__all__ = ["dim_importance", "removal_counts", "select_dims"]

Key = tuple[str, str]


def _l1(model: nn.Module, kind: str, name: str) -> torch.Tensor:
    blocks = attention_blocks(model)
    if kind == "heads":
        attn = blocks[name].attn
        heads = attn.num_heads
        d = attn.qkv.out_features // (3 * heads)
        qkv = attn.qkv.weight.abs().reshape(3, heads, d, -1).sum(dim=(0, 2, 3))
        proj = attn.proj.weight.abs().reshape(attn.proj.out_features, heads, d).sum(dim=(0, 2))
        return qkv + proj
    if kind == "mlp":
        mlp = blocks[name].mlp
        return mlp.fc1.weight.abs().sum(1) + mlp.fc2.weight.abs().sum(0)
    total = model.patch_embed.proj.weight.abs().flatten(1).sum(1)
    for block in blocks.values():
        total = total + block.attn.qkv.weight.abs().sum(0) + block.attn.proj.weight.abs().sum(1)
        total = total + block.mlp.fc1.weight.abs().sum(0) + block.mlp.fc2.weight.abs().sum(1)
    if isinstance(getattr(model, "head", None), nn.Linear):
        total = total + model.head.weight.abs().sum(0)
    return total


@torch.no_grad()
def dim_importance(
    model: nn.Module,
    kinds: list[str],
    source: str,
    gates: dict[Key, torch.Tensor] | None = None,
) -> dict[Key, torch.Tensor]:
    """``(kind, group) -> importance per dim`` from ``gates`` (|g|) or ``l1`` weight norms."""
    dims = searchable_dims(model)
    out = {}
    for kind in kinds:
        for name, size in dims[kind].items():
            if source == "gates":
                if gates is None or (kind, name) not in gates:
                    raise DimSurgeryError(f"no search gate for {kind} of {name}")
                value = gates[(kind, name)].detach().abs().cpu()
                if value.numel() != size:
                    raise DimSurgeryError(
                        f"gates for {kind} of {name} have {value.numel()} dims, the model {size}"
                    )
            else:
                value = _l1(model, kind, name).detach().cpu()
            out[(kind, name)] = value.float()
    return out


def _removal(order: dict[Key, list[int]], counts: dict[Key, int]) -> Removal:
    removal: Removal = {}
    for (kind, name), n in counts.items():
        if n <= 0:
            continue
        chosen = sorted(order[(kind, name)][:n])
        if kind == "embed":
            removal["embed"] = chosen
        else:
            removal.setdefault(kind, {})[name] = chosen
    return removal


def removal_counts(removal: Removal) -> dict[str, int]:
    """Dims removed per kind."""
    return {
        kind: len(value) if kind == "embed" else sum(len(v) for v in value.values())
        for kind, value in removal.items()
    }


def select_dims(
    model: nn.Module,
    importance: dict[Key, torch.Tensor],
    *,
    budget: float | None = None,
    allocation: str = "per_layer",
    cost: Callable[[nn.Module], float] | None = None,
) -> Removal:
    """The removal: zero-importance dims, then the least important until ``budget`` is met.

    Args:
        model: the transformer (not modified).
        importance: from :func:`dim_importance`.
        budget: fraction of ``cost`` to remove, in (0, 1); ``None``: exact zeros only.
        allocation: ``per_layer`` or ``global``.
        cost: what the budget counts (default: parameters).

    Raises:
        DimSurgeryError: a budget outside (0, 1) or one the searchable dims cannot reach.
    """
    if budget is not None and not 0 < budget < 1:
        raise DimSurgeryError(f"budget {budget} is outside (0, 1)")
    if allocation not in ("per_layer", "global"):
        raise DimSurgeryError(f"allocation {allocation!r} is not per_layer or global")
    cost = cost or count_params
    order = {k: torch.argsort(v, stable=True).tolist() for k, v in importance.items()}
    zeros = {k: min(int((v == 0).sum()), v.numel() - 1) for k, v in importance.items()}
    if budget is None:
        return _removal(order, zeros)
    before = cost(model)

    def removed_fraction(counts: dict[Key, int]) -> float:
        trial = prune_dims(copy.deepcopy(model), _removal(order, counts))
        return 1.0 - cost(trial) / before

    if allocation == "per_layer":

        def counts_at(t: float) -> dict[Key, int]:
            return {
                k: max(zeros[k], min(v.numel() - 1, int(t * v.numel())))
                for k, v in importance.items()
            }

    else:
        scores = []
        for k, v in importance.items():
            mean = float(v.mean()) or 1.0
            scores += [(float(s) / mean, k) for s in torch.sort(v).values]
        scores.sort(key=lambda item: item[0])

        def counts_at(t: float) -> dict[Key, int]:
            counts = dict.fromkeys(importance, 0)
            for _, k in scores[: int(t * len(scores))]:
                counts[k] += 1
            return {k: max(zeros[k], min(importance[k].numel() - 1, n)) for k, n in counts.items()}

    if removed_fraction(counts_at(1.0)) < budget:
        raise DimSurgeryError(
            f"budget {budget} cannot be met by removing {', '.join(sorted({k for k, _ in importance}))} "
            f"dims (at most {removed_fraction(counts_at(1.0)):.3f}); add a kind or lower the budget"
        )
    low, high = 0.0, 1.0
    for _ in range(30):
        mid = (low + high) / 2
        if removed_fraction(counts_at(mid)) >= budget:
            high = mid
        else:
            low = mid
    return _removal(order, counts_at(high))
