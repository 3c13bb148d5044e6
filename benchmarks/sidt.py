"""SiDT dimension search vs uniform width, magnitude and Torch-Pruning on a timm ViT.

Protocol (every method the same data, optimizer, epochs and fine-tuning):

- ``dense``: train ``--epochs`` then fine-tune ``--finetune`` epochs, unpruned ("dense, same
  epochs"; the fine-tune phase uses the same schedule as every pruned model's).
- ``sidt``: train ``--epochs`` with the ``dim_search`` term (gates on embed dims, heads, MLP units,
  proximal ℓ1), fold the gates, remove the zero gates and then the smallest |g| until the params
  budget is met (``per_layer``), fine-tune. λ is chosen per budget on the validation split of
  seed 0 from ``--lams`` (never on the test set); that run is seed 0's row.
- ``magnitude``: the dense model after ``--epochs``; the same dims removed by ℓ1 weight magnitude
  to the same budget (same selection code), fine-tune.
- ``torch_pruning``: the dense model after ``--epochs``; Torch-Pruning's ``MetaPruner`` with
  ``GroupMagnitudeImportance(p=1)`` on timm's ViT (embed dims coupled through the residual
  stream, MLP units; ``num_heads`` given), stepped until params meet the budget, fine-tune.
  Its head pruning is off: with 3 heads per block it removes a head at every iterative step and
  empties the blocks (ZeroDivisionError in the first two steps; see the log).
- ``uniform``: a narrower ViT (embedding width chosen so params are nearest the budget; same
  depth, heads, MLP ratio) trained from scratch for ``--epochs`` + ``--finetune``.

Reported per method and budget: test top-1 (mean ± std over seeds), val top-1, params, MACs and
ONNX Runtime latency at batch 1 and 32 (seed 0's model), and the params/MACs per dimension kind
(complexity analysis).

Commands (digits, 3 seeds, 10 min on 2 cores; CIFAR-10 subset, 1 seed, about 20 min)::

    nice python benchmarks/sidt.py --seeds 0 1 2 > benchmarks/results/sidt.log 2>&1
    nice python benchmarks/sidt.py --dataset cifar10 --model vit_cifar \
        --model-kwargs '{"embed_dim": 96, "depth": 6}' --per-class 500 --val-per-class 50 \
        --batch-size 64 --epochs 8 --finetune 3 --lr 0.002 --ft-lr 0.0005 --budgets 0.4 \
        --lams 0.005 0.02 --name sidt_cifar10 > benchmarks/results/sidt_cifar10.log 2>&1
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
from typing import Any

import torch
import torch_pruning as tp
from harness import Bench, Results, cpu_simd
from torch import nn

from slimkit.engine import OptimizerConfig
from slimkit.measure import count_macs, count_params
from slimkit.models import build_model
from slimkit.sparsity.config import DimSearchConfig
from slimkit.sparsity.dim_search import DimSearch
from slimkit.surgery.dim_select import dim_importance, removal_counts, select_dims
from slimkit.surgery.transformer import attention_blocks, mask_dims, prune_dims, searchable_dims


def parse() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", default="digits")
    p.add_argument("--model", default="vit_tiny_digits")
    p.add_argument("--model-kwargs", type=json.loads, default={}, help='JSON, e.g. {"depth": 6}')
    p.add_argument("--per-class", type=int, default=None)
    p.add_argument("--val-per-class", type=int, default=15)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--epochs", type=int, default=40)
    p.add_argument("--finetune", type=int, default=4)
    p.add_argument("--lr", type=float, default=0.003)
    p.add_argument("--ft-lr", type=float, default=0.001)
    p.add_argument("--weight-decay", type=float, default=0.05)
    p.add_argument("--budgets", type=float, nargs="+", default=[0.2, 0.4])
    p.add_argument("--lams", type=float, nargs="+", default=[0.002, 0.005, 0.02])
    p.add_argument("--gate-lr", type=float, default=0.1)
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--name", default="sidt")
    return p.parse_args()


class SidtBench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.bench = Bench(
            args.dataset,
            per_class=args.per_class,
            batch_size=args.batch_size,
            val_per_class=args.val_per_class,
        )
        self.classes = self.bench.data.num_classes

    def build(self, seed: int, **kwargs: Any) -> nn.Module:
        torch.manual_seed(seed)
        return build_model(
            self.args.model, num_classes=self.classes, **{**self.args.model_kwargs, **kwargs}
        )

    def train(self, model: nn.Module, seed: int, finetune: bool, terms=()) -> float:
        a = self.args
        lr = a.ft_lr if finetune else a.lr
        opt = OptimizerConfig(name="adamw", lr=lr, weight_decay=a.weight_decay)
        return self.bench.train(
            model, a.finetune if finetune else a.epochs, list(terms), lr, seed, optimizer=opt
        )

    def row(self, method: str, budget: float | None, seed: int, model: nn.Module, **extra) -> dict:
        model = model.cpu().eval()
        out = {
            "method": method,
            "budget": budget,
            "seed": seed,
            "top1": round(self.bench.top1(model), 4),
            "val_top1": round(self.bench.val_top1(model), 4),
            "params": count_params(model),
            "macs": count_macs(model, self.bench.input_size),
            "dims": {k: sum(v.values()) for k, v in searchable_dims(model).items()},
            **extra,
        }
        if seed == self.args.seeds[0]:
            out["latency_ms"] = self.bench.measure(model, repeats=20)["latency_ms"]
        print(f"  {method:14s} budget {budget} seed {seed}: top1 {out['top1']:.4f} "
              f"val {out['val_top1']:.4f} params {out['params']:,}", flush=True)  # fmt: skip
        return out


def prune_to(model: nn.Module, importance: dict, budget: float) -> dict[str, int]:
    removal = select_dims(model, importance, budget=budget, allocation="per_layer")
    with torch.no_grad():
        mask_dims(model, removal)
        prune_dims(model, removal)
    return removal_counts(removal)


def tp_prune_vit(model: nn.Module, budget: float, input_size: tuple[int, int, int]) -> None:
    """Torch-Pruning on a timm ViT: embed dims and MLP units to ``budget`` of the params."""
    if not hasattr(model, "blocks"):
        raise NotImplementedError("the Torch-Pruning baseline is wired for timm ViT only")
    model.eval()
    example = torch.zeros(2, *input_size)
    before = count_params(model)
    pruner = tp.pruner.MetaPruner(
        model,
        example,
        importance=tp.importance.GroupMagnitudeImportance(p=1),
        pruning_ratio=0.9,
        iterative_steps=90,
        num_heads={b.attn.qkv: b.attn.num_heads for b in model.blocks},
        prune_num_heads=False,
        prune_head_dims=False,
        ignored_layers=[model.head],
    )
    for _ in range(pruner.iterative_steps):
        if count_params(model) <= (1 - budget) * before:
            break
        pruner.step()
    model.embed_dim = model.num_features = model.head_hidden_size = model.pos_embed.shape[-1]


def uniform_width(sb: SidtBench, budget: float, dense_params: int) -> int:
    """Embedding width (a multiple of the first block's head count) whose model has params
    nearest the budget (Swin: the stem width; later stages double it)."""
    first = next(iter(attention_blocks(sb.build(0)).values())).attn
    heads = first.num_heads
    target = (1 - budget) * dense_params
    widths = range(heads, 4 * int(sb.build(0).embed_dim), heads)
    return min(widths, key=lambda w: abs(count_params(sb.build(0, embed_dim=w)) - target))


def sidt_run(sb: SidtBench, seed: int, lam: float, budget: float) -> tuple[nn.Module, dict]:
    model = sb.build(seed)
    term = DimSearch(DimSearchConfig(lam=lam, gate_lr=sb.args.gate_lr), model)
    term.base_lr = sb.args.lr
    sb.train(model, seed, finetune=False, terms=[term])
    zeros = {k: int(sum(int((g == 0).sum()) for (kk, _), g in term.gates.items() if kk == k))
             for k in term.kinds}  # fmt: skip
    imp = dim_importance(model, term.kinds, "gates", term.gates)
    removed = prune_to(model, imp, budget)
    sb.train(model, seed, finetune=True)
    return model, {"lam": lam, "zero_gates": zeros, "dims_removed": removed}


def main() -> None:
    args = parse()
    torch.set_num_threads(2)
    sb = SidtBench(args)
    setup = {**vars(args), "cpu_simd": cpu_simd(), "train_images": len(sb.bench.data.train)}
    results = Results(args.name, setup, render)
    chosen_lam: dict[float, float] = {}
    lam_sweep: list[dict[str, Any]] = []
    for seed in args.seeds:
        print(f"seed {seed}: dense", flush=True)
        dense = sb.build(seed)
        sb.train(dense, seed, finetune=False)
        trained = copy.deepcopy(dense)
        sb.train(dense, seed, finetune=True)
        dense_row = results.add(sb.row("dense", None, seed, dense))
        for budget in args.budgets:
            mag = copy.deepcopy(trained)
            kinds = list(searchable_dims(mag))
            removed = prune_to(mag, dim_importance(mag, kinds, "l1"), budget)
            sb.train(mag, seed, finetune=True)
            results.add(sb.row("magnitude", budget, seed, mag, dims_removed=removed))
            tpm = copy.deepcopy(trained)
            try:
                tp_prune_vit(tpm, budget, sb.bench.input_size)
            except Exception as err:  # reported as a row, not hidden
                results.add({"method": "torch_pruning", "budget": budget, "seed": seed,
                             "failed": f"{type(err).__name__}: {err}"[:300]})  # fmt: skip
            else:
                sb.train(tpm, seed, finetune=True)
                results.add(sb.row("torch_pruning", budget, seed, tpm))
            width = uniform_width(sb, budget, dense_row["params"])
            uni = sb.build(seed, embed_dim=width)
            sb.train(uni, seed, finetune=False)
            sb.train(uni, seed, finetune=True)
            results.add(sb.row("uniform", budget, seed, uni, embed_dim=width))
            if budget not in chosen_lam:  # λ chosen on the val split of the first seed
                runs = []
                for lam in args.lams:
                    model, extra = sidt_run(sb, seed, lam, budget)
                    row = sb.row("sidt", budget, seed, model, **extra)
                    lam_sweep.append({k: row[k] for k in ("budget", "seed", "val_top1", "params")}
                                     | {"lam": lam})  # fmt: skip
                    runs.append(row)
                best = max(runs, key=lambda r: r["val_top1"])
                chosen_lam[budget] = best["lam"]
                results.add(best)
            else:
                model, extra = sidt_run(sb, seed, chosen_lam[budget], budget)
                results.add(sb.row("sidt", budget, seed, model, **extra))
            results.save(lam_sweep=lam_sweep, chosen_lam=chosen_lam)
    results.save(
        lam_sweep=lam_sweep, chosen_lam=chosen_lam, summary=summarize(results.rows), dense=dense_row
    )


def summarize(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    failed = [r for r in rows if "failed" in r]
    rows = [r for r in rows if "failed" not in r]
    for r in failed:
        if not any(o["method"] == r["method"] and o.get("failed") for o in out):
            out.append({"method": r["method"], "budget": r["budget"], "failed": r["failed"]})
    keys = sorted({(r["method"], r["budget"] or 0.0) for r in rows}, key=lambda k: (k[1], k[0]))
    for method, budget in keys:
        group = [r for r in rows if r["method"] == method and (r["budget"] or 0.0) == budget]
        tops = [r["top1"] for r in group]
        first = group[0]
        out.append({
            "method": method,
            "budget": budget,
            "seeds": [r["seed"] for r in group],
            "top1_mean": round(statistics.mean(tops), 4),
            "top1_std": round(statistics.stdev(tops), 4) if len(tops) > 1 else 0.0,
            "val_top1_mean": round(statistics.mean(r["val_top1"] for r in group), 4),
            "params": round(statistics.mean(r["params"] for r in group)),
            "macs": round(statistics.mean(r["macs"] for r in group)),
            "dims": first["dims"],
            "latency_ms": first.get("latency_ms"),
        })  # fmt: skip
    return out


def render(data: dict[str, Any]) -> str:
    s = data["setup"]
    lines = [
        "# SiDT vs uniform width, magnitude and Torch-Pruning",
        "",
        f"Command: `{data['command']}`",
        "",
        f"{s['model']} {s.get('model_kwargs') or ''} on {s['dataset']} ({s['train_images']} train images, val "
        f"{s['val_per_class']}/class carved from train), AdamW lr {s['lr']} for {s['epochs']} "
        f"epochs + fine-tune lr {s['ft_lr']} for {s['finetune']} epochs for every method; "
        f"seeds {s['seeds']}; torch {s['torch']}; {data.get('total_seconds', 0)} s.",
        "",
        "| method | params removed (budget) | top-1 (mean ± std) | val top-1 | params | MACs | "
        "embed / heads / MLP dims | ORT bs1 ms | ORT bs32 ms |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    summary = data.get("summary") or summarize(data["rows"])
    dense = next((r for r in summary if r["method"] == "dense" and not r.get("failed")), None)
    for r in summary:
        if r.get("failed"):
            lines.append(f"| {r['method']} | - | failed: {r['failed']} | | | | | | |")
            continue
        lat = r.get("latency_ms") or {}
        removed = f"{1 - r['params'] / dense['params']:.1%}" if dense else "?"
        dims = r["dims"]
        lines.append(
            f"| {r['method']} | {removed} ({r['budget']:.0%}) | {r['top1_mean']:.4f} ± "
            f"{r['top1_std']:.4f} | {r['val_top1_mean']:.4f} | {r['params']:,} | {r['macs']:,} | "
            f"{dims.get('embed', '-')} / {dims.get('heads', '-')} / {dims.get('mlp', '-')} | "
            f"{lat.get('ort_bs1', float('nan')):.3f} | {lat.get('ort_bs32', float('nan')):.3f} |"
        )
    if data.get("chosen_lam"):
        lines += ["", f"SiDT λ chosen on val (seed {s['seeds'][0]}): {data['chosen_lam']}; sweep:"]
        lines += [f"- budget {r['budget']}, λ {r['lam']}: val top-1 {r['val_top1']:.4f}, "
                  f"params {r['params']:,}" for r in data.get("lam_sweep", [])]  # fmt: skip
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
