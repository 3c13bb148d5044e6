"""Trained Rank Pruning vs post-hoc SVD at matched MACs and equal epochs, ResNet-20 / CIFAR-10.

Fair protocol (issue 18): every row gets the same data (a class-balanced CIFAR-10 subset), the
same total epochs ``--epochs`` and the same fine-tuning ``--ft-epochs`` after factorization, and
the factorized models of one scheme have the same MACs (±3 %):

1. TRP + nuclear trains ``epochs - ft_epochs`` epochs (projection every ``--period`` steps at
   energy ``--energy``, λ ``--nuclear``), is factorized at that energy (its natural ranks), then
   fine-tuned ``--ft-epochs`` epochs. Its MACs M set the target of the scheme.
2. Post-hoc SVD + FT: the dense model trained ``epochs - ft_epochs`` epochs, factorized by the
   planner's ``macs`` rule at target M (largest common energy that fits; ranks in multiples of
   ``--rank-multiple``), then fine-tuned ``--ft-epochs`` epochs. The MACs gap to TRP is reported.
3. Dense, same epochs: the same dense model trained ``--ft-epochs`` more epochs (no
   factorization): the accuracy a plain run of the same length reaches.

Both schemes (``spatial`` = VH: kh x 1 + 1 x kw; ``channel`` = NC: k x k to r, 1 x 1 to out)
share the dense run. ``--start pretrained`` begins from the verified ResNet-20
(``../shared/weights``, option-A shortcuts, ImageNet normalization); ``scratch`` from a seeded
initialization. Top-1 on the full 10,000-image test set. ONNX Runtime latency at batch 1 and
32 for every final model, measured at the end in ``--rounds`` interleaved passes (median).

Command:
    .venv/bin/python benchmarks/trp_resnet20.py --start pretrained
    .venv/bin/python benchmarks/trp_resnet20.py --quick    # smoke test, writes to $TMPDIR
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
from slimkit.measure import count_macs, count_params
from slimkit.models import build_model, load_weights

INPUT = (3, 32, 32)


IMAGENET = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
PRETRAINED = Path(__file__).resolve().parents[2] / "shared" / "weights"


class TRPBench(Bench):
    """The shared harness on the CIFAR-10 subset; every method starts from the same model."""

    def __init__(self, args: argparse.Namespace) -> None:
        mean, std = IMAGENET if args.start == "pretrained" else (None, None)
        super().__init__(
            "cifar10",
            per_class=args.per_class,
            batch_size=args.batch_size,
            threads=args.threads,
            test_per_class=args.test_per_class,
            mean=mean,
            std=std,
        )
        self.start = args.start

    def fresh_model(self) -> nn.Module:
        torch.manual_seed(0)
        if self.start == "pretrained":
            model = build_model("resnet20", num_classes=10, shortcut="A")
            load_weights(model, PRETRAINED / "akamaster_resnet20_cifar10.pt")
        else:
            model = build_model("resnet20", num_classes=10)
        return model.to(memory_format=torch.channels_last)


def factorize(
    model: nn.Module, args: argparse.Namespace, scheme: str, **rule: Any
) -> tuple[nn.Module, dict[str, Any]]:
    """Factorize a copy of ``model`` with the planner's ``rule``; the model and its figures."""
    model = copy.deepcopy(model).cpu().to(memory_format=torch.contiguous_format)
    plan = plan_factorization(
        model,
        INPUT,
        scheme=scheme,
        rank_multiple=args.rank_multiple,
        max_cost_ratio=args.max_cost_ratio,
        **rule,
    )
    factorize_model(model, plan.ranks, scheme)
    return model, {"energy_threshold": round(plan.threshold, 5), "ranks": plan.ranks}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--start", choices=["pretrained", "scratch"], default="pretrained")
    parser.add_argument("--per-class", type=int, default=1000)
    parser.add_argument("--test-per-class", type=int, default=None)
    parser.add_argument("--epochs", type=int, default=4, help="total epochs of every row")
    parser.add_argument("--ft-epochs", type=int, default=1, help="of them, after factorizing")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=0.02)
    parser.add_argument("--ft-lr", type=float, default=0.01)
    parser.add_argument("--energy", type=float, default=0.9, help="TRP e")
    parser.add_argument("--period", type=int, default=5, help="TRP m")
    parser.add_argument("--nuclear", type=float, default=3e-4, help="TRP + nuclear λ")
    parser.add_argument("--schemes", nargs="+", default=["spatial", "channel"])
    parser.add_argument("--rank-multiple", type=int, default=4)
    parser.add_argument("--max-cost-ratio", type=float, default=0.8)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="smoke test (tiny data, 1+1 epochs)")
    args = parser.parse_args()
    if args.quick:
        args.per_class, args.test_per_class, args.epochs, args.ft_epochs = 30, 20, 2, 1
        args.rounds = 1
    if not 0 < args.ft_epochs < args.epochs:
        parser.error("--ft-epochs must be between 1 and --epochs - 1")
    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)
    if args.quick:  # the smoke test never overwrites the committed results
        harness.RESULTS = Path(tempfile.gettempdir()) / "slimkit-trp-quick"
    bench = TRPBench(args)
    setup = {
        **vars(args),
        "model": "resnet20 (option A, pretrained)" if args.start == "pretrained" else "resnet20",
        "train_images": len(bench.data.train),
        "test_images": len(bench.data.test),
        "seed": 0,
    }
    results = Results("trp_resnet20", setup, render)
    finals: dict[str, nn.Module] = {}
    base_epochs = args.epochs - args.ft_epochs

    def record(name: str, model: nn.Module, seconds: float, **extra: Any) -> dict[str, Any]:
        model = model.cpu()
        row = {
            "method": name, "train_seconds": round(seconds, 1), **extra,
            "params": count_params(model), "macs": count_macs(model, INPUT),
            "top1": bench.top1(model),
        }  # fmt: skip
        results.rows.append(row)
        finals[name] = copy.deepcopy(model).cpu().to(memory_format=torch.contiguous_format)
        results.save()
        print(f"== {name}: top-1 {row['top1']:.4f}, MACs {row['macs']:,}", flush=True)
        return row

    print(f"== dense, {base_epochs} epochs", flush=True)
    dense = bench.fresh_model()
    record("start model", dense, 0.0)
    dense_seconds = bench.train(dense, base_epochs, [], args.lr, 0)
    dense_full = copy.deepcopy(dense)
    ft_seconds = bench.train(dense_full, args.ft_epochs, [], args.ft_lr, 1)
    record("dense, same epochs", dense_full, dense_seconds + ft_seconds)

    for scheme in args.schemes:
        print(f"== TRP + nuclear ({scheme})", flush=True)
        cfg = TRPConfig(energy=args.energy, period=args.period, nuclear=args.nuclear, scheme=scheme)
        model = bench.fresh_model()
        term = TrainedRankPruning(cfg, model)
        seconds = bench.train(model, base_epochs, [term], args.lr, 0)
        before = bench.top1(model)
        trp, info = factorize(model, args, scheme, rule="energy", threshold=args.energy)
        trp_macs = count_macs(trp, INPUT)
        after = bench.top1(trp)
        trp = trp.to(memory_format=torch.channels_last)
        seconds += bench.train(trp, args.ft_epochs, [], args.ft_lr, 1)
        record(f"TRP + nuclear + FT ({scheme})", trp, seconds, scheme=scheme,
               top1_before_factorizing=before, top1_after_factorizing=after, **info)  # fmt: skip

        print(f"== post-hoc SVD + FT ({scheme}) at {trp_macs:,} MACs", flush=True)
        target = trp_macs / count_macs(dense, INPUT)
        svd, info = factorize(dense, args, scheme, rule="macs", macs_target=target)
        after = bench.top1(svd)
        svd = svd.to(memory_format=torch.channels_last)
        svd_seconds = dense_seconds + bench.train(svd, args.ft_epochs, [], args.ft_lr, 1)
        row = record(f"post-hoc SVD + FT ({scheme})", svd, svd_seconds, scheme=scheme,
                     top1_after_factorizing=after, **info)  # fmt: skip
        row["macs_gap_vs_trp"] = round(row["macs"] / trp_macs - 1, 4)
        results.save()

    print("== latency (interleaved)", flush=True)
    latency = harness.interleaved_latency(finals, INPUT, args.threads, args.rounds, repeats=20)
    for row in results.rows:
        row["latency_ms"] = latency[row["method"]]
    speedups(results.rows, results.rows[0])
    results.save()
    print(render(results.data))
    print(f"results: {harness.RESULTS / 'trp_resnet20.md'}")


def render(result: dict[str, Any]) -> str:
    s = result["setup"]
    lines = [
        "# Trained Rank Pruning vs post-hoc SVD at matched MACs (ResNet-20, CIFAR-10)",
        "",
        f"Start: {s['model']}. Every row: {s['train_images']:,} training images "
        f"({s['per_class']} per class), {s['epochs']} epochs in total, of which the last "
        f"{s['ft_epochs']} fine-tune the factorized model (dense: plain training); batch "
        f"{s['batch_size']}, SGD momentum 0.9, weight decay 1e-4, cosine lr {s['lr']} (FT "
        f"{s['ft_lr']}); TRP e = {s['energy']}, m = {s['period']}, nuclear λ = {s['nuclear']}. "
        f"TRP is factorized at its own energy e; SVD at the same MACs (planner rule macs: "
        f"largest common energy that fits; ranks in multiples of {s['rank_multiple']}). Top-1 on "
        f"{s['test_images']:,} test images; ONNX Runtime latency: median of {s['rounds']} "
        f"interleaved passes, {s['threads']} threads; seed {s['seed']}; torch {s['torch']}. "
        f"Total {result.get('total_seconds', 0) / 60:.1f} min.",
        "",
        "| method | top-1 | top-1 right after factorizing | params | MACs | MACs reduction "
        "| MACs vs TRP | energy e | ORT bs1 ms | ORT bs32 ms | speed-up bs1 / bs32 | train s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in result["rows"]:
        after = r.get("top1_after_factorizing")
        lat = r.get("latency_ms", {})
        gap = r.get("macs_gap_vs_trp")
        lines.append(
            f"| {r['method']} | {100 * r['top1']:.2f} | "
            f"{'' if after is None else f'{100 * after:.2f}'} | {r['params']:,} | "
            f"{r['macs'] / 1e6:.2f} M | {r.get('macs_reduction', 1):.2f}x | "
            f"{'' if gap is None else f'{100 * gap:+.1f} %'} | {r.get('energy_threshold', '')} | "
            f"{lat.get('ort_bs1', float('nan')):.3f} | {lat.get('ort_bs32', float('nan')):.2f} | "
            f"{r.get('ort_speedup_bs1', 1):.2f}x / {r.get('ort_speedup_bs32', 1):.2f}x | "
            f"{r['train_seconds']:.0f} |"
        )
    lines += ["", f"Command: `{result['command']}`", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
