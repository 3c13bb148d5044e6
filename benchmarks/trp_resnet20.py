"""Trained Rank Pruning vs post-hoc SVD and nuclear-norm training on ResNet-20 / CIFAR-10.

Every method trains the same ResNet-20 (option-B shortcuts) from the same initialization on the
same class-balanced CIFAR-10 subset for ``--epochs`` epochs (cosine lr, SGD momentum 0.9, weight
decay 1e-4), then is factorized by the ``factorize`` stage's planner into kh×1 + 1×kw convs
(``spatial`` scheme, ranks rounded up to multiples of ``--rank-multiple``, a layer is split only
if it then costs <= ``--max-cost-ratio`` of its MACs) at the **same MACs target** (rule ``macs``:
the largest common energy threshold whose model fits ``1 / --target-reduction`` of the dense
MACs). Methods (TRP digest §1.5, §1.11):

- dense: plain training (the reference, not factorized);
- post-hoc SVD: the dense model factorized, no fine-tuning;
- post-hoc SVD + FT: then fine-tuned ``--ft-epochs`` epochs (extra epochs only this row gets);
- nuclear-only: ``trp`` term with ``project: false``: the full ``λ·U Vᵀ`` every step;
- TRP: projection every ``--period`` steps at energy ``--energy``, no nuclear term;
- TRP + nuclear: the same plus ``λ·U_r V_rᵀ`` on projection steps.

For each: top-1 before and after factorization (full 10,000-image test set), params, MACs, ONNX
Runtime latency at batch 1 and 32 (``slimkit.measure``, ``--threads`` threads), train seconds,
ranks. Rows are written to ``benchmarks/results/trp_resnet20.{json,md}`` as they finish.

Command:
    .venv/bin/python benchmarks/trp_resnet20.py            # ~25 min on 2 quiet cores
    .venv/bin/python benchmarks/trp_resnet20.py --quick    # smoke test, < 2 min, writes to $TMPDIR
"""

from __future__ import annotations

import argparse
import copy
import tempfile
from pathlib import Path
from typing import Any

import harness
import torch
from harness import Bench, Results, speedups
from torch import nn

from slimkit.lowrank import TrainedRankPruning, TRPConfig, factorize_model, plan_factorization
from slimkit.models import build_model

INPUT = (3, 32, 32)


class TRPBench(Bench):
    """The shared harness on the CIFAR-10 subset; every method starts from the same init."""

    def __init__(self, args: argparse.Namespace) -> None:
        super().__init__(
            "cifar10",
            per_class=args.per_class,
            batch_size=args.batch_size,
            threads=args.threads,
            test_per_class=args.test_per_class,
        )

    def fresh_model(self) -> nn.Module:
        torch.manual_seed(0)
        return build_model("resnet20", num_classes=10).to(memory_format=torch.channels_last)


def factorize(model: nn.Module, args: argparse.Namespace) -> tuple[nn.Module, dict[str, Any]]:
    """Factorize at the matched MACs target; return the model and the plan's figures."""
    model = copy.deepcopy(model).cpu().to(memory_format=torch.contiguous_format)
    plan = plan_factorization(
        model,
        INPUT,
        scheme=args.scheme,
        rule="macs",
        macs_target=1.0 / args.target_reduction,
        rank_multiple=args.rank_multiple,
        max_cost_ratio=args.max_cost_ratio,
    )
    factorize_model(model, plan.ranks, args.scheme)
    return model, {"energy_threshold": round(plan.threshold, 5), "ranks": plan.ranks}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-class", type=int, default=1000)
    parser.add_argument("--test-per-class", type=int, default=None)
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--ft-epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--ft-lr", type=float, default=0.02)
    parser.add_argument("--energy", type=float, default=0.9, help="TRP e")
    parser.add_argument("--period", type=int, default=5, help="TRP m")
    parser.add_argument("--nuclear", type=float, default=3e-4, help="λ (TRP+Nu, nuclear-only)")
    parser.add_argument("--scheme", choices=["spatial", "channel"], default="spatial")
    parser.add_argument("--target-reduction", type=float, default=2.0)
    parser.add_argument("--rank-multiple", type=int, default=16)
    parser.add_argument("--max-cost-ratio", type=float, default=0.8)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--only", nargs="*", default=None, help="run only these methods")
    parser.add_argument("--quick", action="store_true", help="smoke test (tiny data, 1 epoch)")
    args = parser.parse_args()
    if args.quick:
        args.per_class, args.test_per_class, args.epochs, args.ft_epochs = 30, 20, 1, 1
    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)
    if args.quick:  # the smoke test never overwrites the committed results
        harness.RESULTS = Path(tempfile.gettempdir()) / "slimkit-trp-quick"
    bench = TRPBench(args)
    setup = {
        **vars(args),
        "model": "resnet20 (option B)",
        "train_images": len(bench.data.train),
        "test_images": len(bench.data.test),
    }
    results = Results("trp_resnet20", setup, render)

    def record(name: str, model: nn.Module, seconds: float, **extra: Any) -> dict[str, Any]:
        model = model.cpu()
        row = {"method": name, "train_seconds": round(seconds, 1), **extra, **bench.measure(model)}
        row["top1"] = bench.top1(model)
        results.rows.append(row)
        dense = results.rows[0]
        speedups(results.rows, dense)
        for r in results.rows:
            r["top1_drop"] = round(dense["top1"] - r["top1"], 4)
        results.save()
        print(f"== {name}: top-1 {row['top1']:.4f}, MACs {row['macs']:,}", flush=True)
        return row

    def wanted(name: str) -> bool:
        return args.only is None or name in args.only

    print("== dense", flush=True)
    dense = bench.fresh_model()
    dense_seconds = bench.train(dense, args.epochs, [], args.lr, 0)
    dense_row = record("dense", dense, dense_seconds)

    if wanted("post-hoc SVD") or wanted("post-hoc SVD + FT"):
        print("== post-hoc SVD", flush=True)
        model, info = factorize(dense, args)
        row = record("post-hoc SVD", model, dense_seconds, top1_before=dense_row["top1"], **info)
        ft = model.to(memory_format=torch.channels_last)
        ft_seconds = bench.train(ft, args.ft_epochs, [], args.ft_lr, 1)
        record("post-hoc SVD + FT", ft, dense_seconds + ft_seconds, top1_before=row["top1"],
               **info)  # fmt: skip

    methods = [
        (
            "nuclear-only",
            TRPConfig(project=False, nuclear=args.nuclear, period=1, scheme=args.scheme),
        ),  # fmt: skip
        ("TRP", TRPConfig(energy=args.energy, period=args.period, scheme=args.scheme)),
        (
            "TRP + nuclear",
            TRPConfig(
                energy=args.energy, period=args.period, nuclear=args.nuclear, scheme=args.scheme
            ),
        ),  # fmt: skip
    ]
    for name, cfg in methods:
        if not wanted(name):
            continue
        print(f"== {name}", flush=True)
        model = bench.fresh_model()
        term = TrainedRankPruning(cfg, model)
        seconds = bench.train(model, args.epochs, [term], args.lr, 0)
        before = bench.top1(model)
        factorized, info = factorize(model, args)
        record(name, factorized, seconds, top1_before=before,
               trp_last_ranks=dict(zip(term.names, term.last_ranks, strict=True)), **info)  # fmt: skip
    print(render(results.data))
    print(f"results: {harness.RESULTS / 'trp_resnet20.md'}")


def render(result: dict[str, Any]) -> str:
    s = result["setup"]
    lines = [
        "# Trained Rank Pruning vs post-hoc SVD (ResNet-20, CIFAR-10)",
        "",
        f"Budget: {s['train_images']:,} training images ({s['per_class']} per class), "
        f"{s['epochs']} training epochs for every method, + {s['ft_epochs']} fine-tuning epochs "
        f"for post-hoc SVD + FT only; batch {s['batch_size']}, SGD momentum 0.9, weight decay "
        f"1e-4, cosine lr {s['lr']} (FT {s['ft_lr']}); TRP e = {s['energy']}, m = {s['period']}; "
        f"λ = {s['nuclear']} (TRP + nuclear on projection steps; nuclear-only every step, full "
        f"U Vᵀ). Factorization: {s['scheme']} scheme, matched MACs target "
        f"{s['target_reduction']}x (largest common energy threshold that fits), ranks rounded up "
        f"to multiples of {s['rank_multiple']}, a layer split only if it then costs <= "
        f"{s['max_cost_ratio']} of its MACs. Top-1 on {s['test_images']:,} test images; ONNX "
        f"Runtime, {s['threads']} threads; torch {s['torch']}. "
        f"Total {result.get('total_seconds', 0) / 60:.1f} min.",
        "",
        "| method | top-1 | top-1 before factorizing | drop vs dense | params | MACs | MACs "
        "reduction | energy e found | ORT bs1 ms | ORT bs32 ms | ORT speed-up bs1 / bs32 | "
        "train s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in result["rows"]:
        before = r.get("top1_before")
        lines.append(
            f"| {r['method']} | {100 * r['top1']:.2f} | "
            f"{'' if before is None else f'{100 * before:.2f}'} | "
            f"{100 * r.get('top1_drop', 0):+.2f} | {r['params']:,} | {r['macs'] / 1e6:.2f} M | "
            f"{r.get('macs_reduction', 1):.2f}x | {r.get('energy_threshold', '')} | "
            f"{r['latency_ms']['ort_bs1']:.3f} | {r['latency_ms']['ort_bs32']:.2f} | "
            f"{r.get('ort_speedup_bs1', 1):.2f}x / {r.get('ort_speedup_bs32', 1):.2f}x | "
            f"{r['train_seconds']:.0f} |"
        )
    lines += ["", f"Command: `{result['command']}`", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
