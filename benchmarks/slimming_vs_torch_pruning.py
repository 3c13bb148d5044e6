"""Network slimming family vs Torch-Pruning on ResNet-20 / full CIFAR-10, tuned on a val split.

Every method trains the same ResNet-20 (option-B shortcuts) from the same initialization on the
full CIFAR-10 training set less a 5,000-image validation split (500 per class), for the same total
epochs: ``--epochs`` of sparsity training (where the method has a regularizer), pruning to one
common MACs target (``--macs-fraction`` of the dense MACs, >= 2x fewer), then ``--ft-epochs`` of
fine-tuning. "dense, same total epochs" trains ``epochs + ft_epochs`` plainly. Methods:

- NS ℓ1 and nonconvex tℓ1 (slimkit ``bn_sparsity`` method ``subgradient``; Liu et al. 2017,
  Bui et al. 2021), pruned by the global |γ| ranking to the MACs target;
- proximal ℓ1 / tℓ1 (method ``proximal``, the relaxed-variable update of the proximal slimming
  paper) and coupled-group proximal ℓ2,1 (``grouping: coupled``: one group per coupled channel
  over every BN that holds it, so residual-coupled channels reach exact zero together), pruned to
  the same target (exact zeros go first; the row says what share of the removed channels were
  exact zeros); their "no FT" rows are the pruned models before fine-tuning;
- Torch-Pruning ``BNScalePruner`` and ``GroupNormPruner``: their own regularizer during training
  (``pruner.regularize`` after backward, run as a slimkit training term), then their global
  importance stepped to the same target.

Each method's one hyperparameter (λ, or Torch-Pruning's ``reg``) is chosen by an Optuna grid
sweep with the same grid and number of trials for every method, on a class-balanced subset of the
training split (``--sweep-per-class``, ``--sweep-epochs`` sparse + ``--sweep-ft-epochs``
fine-tuning), scored by top-1 on the validation split after pruning to the target and the short
fine-tuning. The test set is used only for the final rows. Every selection keeps a multiple of
``--round-to`` channels per coupled group (slimkit's ``round_to``, Torch-Pruning's own).

For each final row: top-1 (before pruning, after pruning, after fine-tuning), params, MACs, ONNX
Runtime latency at batch 1 and 32 (all models interleaved over several passes, median), train
seconds. The acceptance criteria of issue 20 are checked on the table.

Command:
    nice .venv/bin/python benchmarks/slimming_vs_torch_pruning.py [--epochs 3] [--ft-epochs 1]

Writes ``benchmarks/results/slimming_vs_torch_pruning.{json,md}`` (rows saved as they finish).
"""

from __future__ import annotations

import argparse
import copy
import statistics
from dataclasses import dataclass, field
from typing import Any

import optuna
import torch
import torch_pruning as tp
from harness import (
    Bench,
    Results,
    TorchPruningRegularizer,
    add_sweep_arguments,
    cpu_simd,
    grid_sweep,
    interleaved_latency,
    make_tp_pruner,
    speedups,
    tp_prune,
)
from torch import nn

from slimkit.measure import count_macs, count_params
from slimkit.models import build_model
from slimkit.sparsity import BNScaleSparsity, BNSparsityConfig, bn_layers
from slimkit.surgery import channel_groups, mask_channels, prune_channels, select_channels

INPUT = (3, 32, 32)


class SlimmingBench(Bench):
    """The shared harness on CIFAR-10 (optionally with a val split), plus this benchmark's
    ResNet-20 initialization."""

    def __init__(self, args: argparse.Namespace) -> None:
        super().__init__(
            "cifar10",
            per_class=args.per_class,
            batch_size=args.batch_size,
            threads=args.threads,
            val_per_class=getattr(args, "val_per_class", None),
        )
        self.args = args

    def fresh_model(self, seed: int = 0) -> nn.Module:
        """The same initialization for every method (BN scales set to ``--gamma-init``)."""
        torch.manual_seed(seed)
        model = build_model("resnet20", num_classes=10)
        with torch.no_grad():
            for _, bn in bn_layers(model):
                bn.weight.fill_(self.args.gamma_init)
        return model.to(memory_format=torch.channels_last)


def tp_pruner(model: nn.Module, importance: Any, pruner_cls: Any, reg: float, round_to: int) -> Any:
    """A global Torch-Pruning pruner (classifier kept) for this benchmark's ResNet-20."""
    return make_tp_pruner(
        model, importance, pruner_cls, reg, INPUT, [model.fc], steps=300, round_to=round_to
    )


@dataclass(frozen=True)
class Method:
    """One compared method: a slimkit ``bn_sparsity`` setting or a Torch-Pruning pruner."""

    label: str
    bn_sparsity: dict[str, Any] = field(default_factory=dict)
    tp: str = ""  # "bnscale" or "groupnorm"
    exact_zeros: bool = False  # proximal: report the pruned model before fine-tuning too


METHODS = [
    Method("NS ℓ1", {"method": "subgradient", "penalty": "l1"}),
    Method(
        "nonconvex tℓ1", {"method": "subgradient", "penalty": "tl1", "penalty_kwargs": {"a": 1.0}}
    ),
    Method(
        "proximal ℓ1", {"method": "proximal", "penalty": "l1", "xi_init": "gamma"}, exact_zeros=True
    ),
    Method(
        "proximal tℓ1",
        {"method": "proximal", "penalty": "tl1", "penalty_kwargs": {"a": 1.0}, "xi_init": "gamma"},
        exact_zeros=True,
    ),
    Method(
        "coupled-group proximal ℓ2,1",
        {"method": "proximal", "penalty": "group_l21", "grouping": "coupled", "xi_init": "gamma"},
        exact_zeros=True,
    ),
    Method("Torch-Pruning BNScalePruner", tp="bnscale"),
    Method("Torch-Pruning GroupNormPruner", tp="groupnorm"),
]


def run_method(
    bench: SlimmingBench,
    method: Method,
    hyper: float,
    *,
    epochs: int,
    ft_epochs: int,
    target_fraction: float,
    seed: int,
    score: Any,
) -> dict[str, Any]:
    """Sparse-train, prune to ``target_fraction`` of the dense MACs, fine-tune; score each phase
    with ``score(model)`` (val top-1 in the sweep, test top-1 in the final rows)."""
    a = bench.args
    model = bench.fresh_model(seed)
    dense_macs = count_macs(model, INPUT)
    example = torch.zeros(1, *INPUT)
    if method.tp:
        model = model.to(memory_format=torch.contiguous_format)
        importance, cls = {
            "bnscale": (tp.importance.BNScaleImportance(), tp.pruner.BNScalePruner),
            "groupnorm": (tp.importance.GroupMagnitudeImportance(p=2), tp.pruner.GroupNormPruner),
        }[method.tp]
        pruner = tp_pruner(model, importance, cls, hyper, a.round_to)
        model = model.to(memory_format=torch.channels_last)
        seconds = bench.train(model, epochs, [TorchPruningRegularizer(pruner)], a.lr, seed)
        before = score(model)
        model = model.cpu().to(memory_format=torch.contiguous_format)
        tp_prune(model, pruner, int(target_fraction * dense_macs), INPUT)
        zero_share = None
    else:
        cfg = BNSparsityConfig(lam=hyper, beta=a.prox_beta, **method.bn_sparsity)
        term = BNScaleSparsity(cfg, model)
        if cfg.grouping != "channel":
            term.set_units(model, INPUT)
        seconds = bench.train(model, epochs, [term], a.lr, seed)
        before = score(model)
        model = model.cpu().to(memory_format=torch.contiguous_format)
        groups = channel_groups(model, example)
        removal = select_channels(
            groups, "macs", macs_target=target_fraction, round_to=a.round_to,
            model=model, example_input=example,
        )  # fmt: skip
        removed = zeros = 0
        for g in groups:
            idx = removal.get(g.root, [])
            removed += len(idx)
            zeros += int((g.importance[idx] == 0).sum()) if idx else 0
        zero_share = zeros / max(removed, 1)
        mask_channels(model, removal)
        prune_channels(model, removal, example)
    pruned = score(model)
    pruned_model = copy.deepcopy(model)
    ft_seconds = bench.train(model, ft_epochs, [], a.ft_lr, seed + 1) if ft_epochs else 0.0
    return {
        "hyper": hyper,
        "score_before_prune": before,
        "score_pruned": pruned,
        "score": score(model),
        "removed_exact_zero_share": zero_share,
        "train_seconds": round(seconds + ft_seconds, 1),
        "params": count_params(model),
        "macs": count_macs(model, INPUT),
        "model": model,
        "pruned_model": pruned_model,
    }


def sweep(sweep_bench: SlimmingBench, method: Method, grid: list[float]) -> dict[str, Any]:
    """Optuna grid search of the method's hyperparameter, scored on the val split."""
    a = sweep_bench.args

    def objective(hyper: float) -> dict[str, Any]:
        out = run_method(
            sweep_bench, method, hyper, epochs=a.sweep_epochs, ft_epochs=a.sweep_ft_epochs,
            target_fraction=a.macs_fraction, seed=0, score=sweep_bench.val_top1,
        )  # fmt: skip
        return {k: v for k, v in out.items() if not k.endswith("model")}

    return grid_sweep(objective, grid, method.label)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-class", type=int, default=None, help="training subset (default all)")
    parser.add_argument("--val-per-class", type=int, default=500)
    parser.add_argument("--epochs", type=int, default=3, help="sparsity-training epochs")
    parser.add_argument("--ft-epochs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--ft-lr", type=float, default=0.01)
    parser.add_argument("--gamma-init", type=float, default=0.5, help="BN scale init (NS paper)")
    parser.add_argument("--prox-beta", type=float, default=10.0)
    parser.add_argument("--macs-fraction", type=float, default=0.48)
    parser.add_argument("--round-to", type=int, default=8)
    add_sweep_arguments(parser, grid=[3.2e-4, 1.8e-3, 1e-2, 5.6e-2], per_class=250, epochs=3)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--latency-rounds", type=int, default=5)
    parser.add_argument("--only", nargs="*", default=None, help="run only these methods")
    parser.add_argument("--tag", default="", help="write slimming_vs_torch_pruning_<tag>.*")
    parser.add_argument("--render-only", action="store_true", help="rewrite the markdown only")
    args = parser.parse_args()
    name = "slimming_vs_torch_pruning" + (f"_{args.tag}" if args.tag else "")
    if args.render_only:
        import json

        from harness import RESULTS

        data = json.loads((RESULTS / f"{name}.json").read_text())
        (RESULTS / f"{name}.md").write_text(render(data))
        return
    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)  # as slimkit runs do (runtime.flush_denormal)
    bench = SlimmingBench(args)
    sweep_bench = SlimmingBench(
        argparse.Namespace(**{**vars(args), "per_class": args.sweep_per_class})
    )
    methods = [m for m in METHODS if args.only is None or m.label in args.only]
    results = Results(
        name,
        {
            **vars(args),
            "model": "resnet20 (option B)",
            "cpu_flags": cpu_simd(),
            "train_images": len(bench.data.train),
            "val_images": len(bench.val_data),
            "sweep_images": len(sweep_bench.data.train),
            "test_images": len(bench.data.test),
            "torch_pruning": tp.__version__,
            "optuna": optuna.__version__,
        },
        render,
    )
    sweeps: dict[str, Any] = {}
    for method in methods:
        print(f"== sweep {method.label}", flush=True)
        sweeps[method.label] = sweep(sweep_bench, method, args.grid)
        results.save(sweeps=sweeps)

    finals: dict[str, nn.Module] = {}
    runs: dict[str, list[dict[str, Any]]] = {}
    print("== dense, same total epochs", flush=True)
    for seed in args.seeds:
        model = bench.fresh_model(seed)
        seconds = bench.train(model, args.epochs + args.ft_epochs, [], args.lr, seed)
        runs.setdefault("dense, same total epochs", []).append(
            {"score": bench.top1(model), "train_seconds": round(seconds, 1),
             "params": count_params(model), "macs": count_macs(model, INPUT), "model": model}
        )  # fmt: skip
    for method in methods:
        hyper = sweeps[method.label]["best"]
        print(f"== {method.label} (chosen {hyper:g})", flush=True)
        for seed in args.seeds:
            out = run_method(
                bench, method, hyper, epochs=args.epochs, ft_epochs=args.ft_epochs,
                target_fraction=args.macs_fraction, seed=seed, score=bench.top1,
            )  # fmt: skip
            print(f"   seed {seed}: top-1 {out['score']:.4f}, MACs {out['macs']:,}", flush=True)
            runs.setdefault(f"{method.label} + FT", []).append(out)
            if method.exact_zeros:
                runs.setdefault(f"{method.label} (no FT)", []).append(
                    {**out, "score": out["score_pruned"], "model": out["pruned_model"]}
                )
        results.save(sweeps=sweeps, partial=summarize(runs, args.seeds))

    rows = summarize(runs, args.seeds)
    for label, seed_runs in runs.items():
        finals[label] = seed_runs[0]["model"].cpu().to(memory_format=torch.contiguous_format)
    print(f"== ORT latency, {len(finals)} models x {args.latency_rounds} passes", flush=True)
    latency = interleaved_latency(finals, INPUT, args.threads, rounds=args.latency_rounds)
    for row in rows:
        row["latency_ms"] = latency[row["method"]]
    speedups(rows, rows[0])
    results.data["rows"] = rows
    results.data.pop("partial", None)
    results.save(sweeps=sweeps)
    print(render(results.data))


def summarize(runs: dict[str, list[dict[str, Any]]], seeds: list[int]) -> list[dict[str, Any]]:
    """One row per method: mean and std of top-1 over seeds, sizes of the first seed."""
    rows = []
    for label, seed_runs in runs.items():
        scores = [r["score"] for r in seed_runs]
        first = seed_runs[0]
        row = {
            "method": label,
            "top1": statistics.mean(scores),
            "top1_std": statistics.stdev(scores) if len(scores) > 1 else 0.0,
            "top1_per_seed": scores,
            "seeds": seeds[: len(scores)],
            "params": first["params"],
            "macs": first["macs"],
            "train_seconds": first["train_seconds"],
        }
        for key in ("hyper", "score_before_prune", "score_pruned", "removed_exact_zero_share"):
            if key in first:
                row[key] = first[key]
        if label.endswith("(no FT)"):
            row.pop("score_pruned", None)
        rows.append(row)
    return rows


def acceptance(result: dict[str, Any]) -> list[str]:
    """Issue 20's criteria, checked on the measured rows (one line each)."""
    rows = {r["method"]: r for r in result["rows"]}
    pruned = [r for r in result["rows"] if not r["method"].startswith("dense")]
    if not pruned:
        return []
    lines = []
    fewest = min(r["macs_reduction"] for r in pruned)
    spread = max(r["macs"] for r in pruned) / min(r["macs"] for r in pruned) - 1
    lines.append(
        f"- every pruned row at >= 2x fewer MACs (least {fewest:.2f}x), MACs matched within "
        f"{100 * spread:.1f} % (needs <= 3 %): **{'holds' if fewest >= 2 and spread <= 0.03 else 'does not hold'}**"
    )
    ours = [r for r in pruned if not r["method"].startswith("Torch-Pruning")]
    theirs = [r for r in pruned if r["method"].startswith("Torch-Pruning")]
    if ours and theirs:
        best, rival = max(ours, key=lambda r: r["top1"]), max(theirs, key=lambda r: r["top1"])
        ok = best["top1"] >= rival["top1"] + 0.005
        lines.append(
            f"- slimkit's best, {best['method']} {100 * best['top1']:.2f} % at "
            f"{best['macs_reduction']:.2f}x, vs Torch-Pruning's best, {rival['method']} "
            f"{100 * rival['top1']:.2f} % at {rival['macs_reduction']:.2f}x (needs +0.5 point): "
            f"**{'holds' if ok else 'does not hold'}**"
        )
    prox = [r for r in pruned if r["method"].endswith("(no FT)")]
    ns = rows.get("NS ℓ1 + FT")
    if prox and ns:
        p = max(prox, key=lambda r: r["top1"])
        ok = p["top1"] >= ns["top1"]
        lines.append(
            f"- proximal without fine-tuning, best {p['method']} {100 * p['top1']:.2f} %, vs NS ℓ1 "
            f"with fine-tuning {100 * ns['top1']:.2f} %: **{'holds' if ok else 'does not hold'}**"
        )
    if all("ort_speedup_bs32" in r for r in pruned):
        worst = min(pruned, key=lambda r: r["ort_speedup_bs32"] / r["macs_reduction"])
        ratio = worst["ort_speedup_bs32"] / worst["macs_reduction"]
        lines.append(
            f"- ORT speed-up at batch 32 / MACs reduction, worst row {worst['method']}: "
            f"{worst['ort_speedup_bs32']:.2f}x / {worst['macs_reduction']:.2f}x = {ratio:.2f} "
            f"(needs >= 0.8): **{'holds' if ratio >= 0.8 else 'does not hold'}**"
        )
    return lines


def render(result: dict[str, Any]) -> str:
    s = result["setup"]
    lines = [
        "# Network slimming family vs Torch-Pruning (ResNet-20, full CIFAR-10)",
        "",
        f"Data: {s['train_images']:,} training images (CIFAR-10 train less a {s['val_images']:,}-image "
        f"validation split), top-1 on the {s['test_images']:,}-image test set. Every method: "
        f"{s['epochs']} epochs of sparsity training, pruning to {s['macs_fraction']} of the dense "
        f"MACs (kept channels a multiple of {s['round_to']} per group), {s['ft_epochs']} epochs of "
        f"fine-tuning (lr {s['ft_lr']}); dense trains {s['epochs'] + s['ft_epochs']} epochs. Batch "
        f"{s['batch_size']}, SGD momentum 0.9, cosine lr {s['lr']}, weight decay 1e-4, BN scales "
        f"initialized to {s['gamma_init']} for every method, proximal β {s['prox_beta']}. "
        f"Seeds {s['seeds']}. CPU: {', '.join(s.get('cpu_flags', []))}, {s['threads']} threads; "
        f"torch {s['torch']}, torch-pruning {s['torch_pruning']}, optuna {s['optuna']}. "
        f"Total {result['total_seconds'] / 60:.1f} min.",
        "",
        f"Sweep (Optuna grid, the same {len(s['grid'])} values {s['grid']} for every method's λ or "
        f"reg): {s['sweep_images']:,} training images, {s['sweep_epochs']} sparse + "
        f"{s['sweep_ft_epochs']} fine-tuning epoch(s), scored by val top-1 after pruning to the "
        "target and fine-tuning. Val top-1 per value:",
        "",
        "| method | " + " | ".join(f"{v:g}" for v in s["grid"]) + " | chosen |",
        "|---|" + "---:|" * (len(s["grid"]) + 1),
    ]
    for label, sw in result.get("sweeps", {}).items():
        by = {t["hyper"]: t["score"] for t in sw["trials"]}
        cells = [f"{100 * by[v]:.2f}" if v in by else "" for v in s["grid"]]
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {sw['best']:g} |")
    rows = result["rows"] or result.get("partial", [])
    lines += [
        "",
        "| method | λ / reg | top-1 | before pruning | pruned, no FT | removed that were exact zeros "
        "| params | MACs | MACs reduction | ORT bs1 ms | ORT bs32 ms | ORT speed-up bs32 | train s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]

    def pct(v: Any) -> str:
        return "" if v is None else f"{100 * v:.2f}"

    for r in rows:
        top1 = f"{100 * r['top1']:.2f}" + (
            f" ± {100 * r['top1_std']:.2f}" if len(r.get("top1_per_seed", [])) > 1 else ""
        )
        lat = r.get("latency_ms", {})
        lines.append(
            f"| {r['method']} | {r.get('hyper', '')} | {top1} | {pct(r.get('score_before_prune'))} | "
            f"{pct(r.get('score_pruned'))} | {pct(r.get('removed_exact_zero_share'))} | "
            f"{r['params']:,} | {r['macs'] / 1e6:.2f} M | {r.get('macs_reduction', 0):.2f}x | "
            f"{lat.get('ort_bs1', float('nan')):.3f} | {lat.get('ort_bs32', float('nan')):.2f} | "
            f"{r.get('ort_speedup_bs32', 0):.2f}x | {r['train_seconds']:.0f} |"
        )
    if result["rows"]:
        lines += ["", "Acceptance checks on this table:", "", *acceptance(result)]
    lines += ["", f"Command: `{result['command']}`", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
