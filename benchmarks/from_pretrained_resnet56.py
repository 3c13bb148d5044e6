"""Compress the pretrained ResNet-56 (93.39 %) with every method, as the literature does.

Start: akamaster's CIFAR-10 ResNet-56 (option-A shortcuts, ImageNet normalization) from
``../shared/weights``. Each method gets the same budget on the same class-balanced CIFAR-10
training subset:

1. ``--sparse-epochs`` epochs of its own regularized training from the pretrained weights
   (cosine from ``--sparse-lr``);
2. pruning to the same MACs target, ``--reduction`` x fewer MACs than the dense model
   (``select_channels(..., "macs")`` for slimkit's methods: the lowest-|γ| coupled channels go
   first, so proximal methods lose their exact zeros first; Torch-Pruning's own global iterative
   pruner for its methods);
3. ``--ft-epochs`` epochs of fine-tuning (cosine from ``--ft-lr``), identical for every method.

Methods: NS ℓ1 (subgradient), proximal ℓ1 and proximal transformed ℓ1 (slimkit ``bn_sparsity``);
TRP + nuclear norm (slimkit ``trp``, then the spatial factorization at the same MACs target);
Torch-Pruning ``BNScalePruner`` and ``GroupNormPruner`` (their regularizer during step 1, then
their pruner). For every method the option-A model is first converted exactly to option B
(``shortcut_a_to_b``: identity 1x1 conv + BN, as slimkit's ``prune`` stage does), because a
dependency graph cannot follow the zero-padding shortcut. Top-1 is on the full 10,000-image test set,
before and after fine-tuning; params, MACs and ONNX Runtime latency at batch 1 and 32.

Command:
    .venv/bin/python benchmarks/from_pretrained_resnet56.py [--per-class 500]
        [--sparse-epochs 4] [--ft-epochs 4] [--reduction 2.0]

Writes ``benchmarks/results/from_pretrained_resnet56.{json,md}`` after every method.
"""

from __future__ import annotations

import argparse
import copy
import time
from typing import Any

import torch
import torch_pruning as tp
from harness import (
    REPO,
    Bench,
    Results,
    TorchPruningRegularizer,
    make_tp_pruner,
    speedups,
    tp_prune,
)
from torch import nn

from slimkit.engine import TrainingTerm
from slimkit.lowrank import TrainedRankPruning, TRPConfig, factorize_model, plan_factorization
from slimkit.models import build_model, load_weights, shortcut_a_to_b
from slimkit.sparsity import BNScaleSparsity, BNSparsityConfig
from slimkit.surgery import channel_groups, mask_channels, prune_channels, select_channels

WEIGHTS = REPO.parent / "shared" / "weights" / "akamaster_resnet56_cifar10.pt"
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
PUBLISHED_TP = {
    "method": "Torch-Pruning published (GroupNormPruner, full GPU schedule; context only)",
    "top1_before": 93.53,
    "top1": 93.64,
    "macs_reduction": 2.57,
}


def pretrained() -> nn.Module:
    """The verified akamaster ResNet-56 (option A)."""
    model = build_model("resnet56", num_classes=10, shortcut="A")
    load_weights(model, WEIGHTS)
    return model


def slimkit_prune(model: nn.Module, fraction: float, input_size: tuple, round_to: int) -> int:
    """Mask then remove the lowest-importance channel groups until MACs <= fraction (each group
    keeping a multiple of ``round_to`` channels); return the number of channels removed."""
    example = torch.zeros(1, *input_size)
    model.cpu().eval()
    groups = channel_groups(model, example)
    removal = select_channels(
        groups,
        "macs",
        macs_target=fraction,
        round_to=round_to,
        model=model,
        example_input=example,
    )
    mask_channels(model, removal, groups=groups)
    prune_channels(model, removal, example)
    return sum(map(len, removal.values()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-class", type=int, default=500)
    parser.add_argument("--sparse-epochs", type=int, default=4)
    parser.add_argument("--ft-epochs", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--sparse-lr", type=float, default=0.02)
    parser.add_argument("--ft-lr", type=float, default=0.01)
    parser.add_argument("--reduction", type=float, default=2.0)
    parser.add_argument("--lam", type=float, default=0.05, help="λ of NS / proximal slimming")
    parser.add_argument("--prox-beta", type=float, default=10.0)
    parser.add_argument("--tl1-a", type=float, default=1.0)
    parser.add_argument("--tp-bn-reg", type=float, default=0.05)
    parser.add_argument("--tp-group-reg", type=float, default=0.02)
    parser.add_argument("--trp-energy", type=float, default=0.9)
    parser.add_argument("--trp-period", type=int, default=5)
    parser.add_argument("--trp-nuclear", type=float, default=3e-4)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--round-to",
        type=int,
        default=1,
        help="kept channels per group: a multiple of this (results get a _round<N> suffix)",
    )
    parser.add_argument("--test-per-class", type=int, default=None, help="(smoke runs only)")
    parser.add_argument("--only", nargs="*", default=None, help="run only these methods")
    args = parser.parse_args()
    if not WEIGHTS.is_file():
        raise SystemExit(f"error: {WEIGHTS} not found (../shared/weights ships beside the repo)")
    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)
    bench = Bench(
        "cifar10",
        per_class=args.per_class,
        batch_size=args.batch_size,
        threads=args.threads,
        mean=IMAGENET_MEAN,
        std=IMAGENET_STD,
        test_per_class=args.test_per_class,
    )
    results = Results(
        "from_pretrained_resnet56" + (f"_round{args.round_to}" if args.round_to > 1 else ""),
        {
            **vars(args),
            "weights": str(WEIGHTS.relative_to(REPO.parent)),
            "train_images": len(bench.data.train),
            "test_images": len(bench.data.test),
            "torch_pruning": tp.__version__,
            "published_reference": PUBLISHED_TP,
        },
        render,
    )
    size = bench.input_size

    dense = pretrained()
    print("== dense (pretrained)", flush=True)
    reference = {"method": "dense (pretrained, no training)", **bench.measure(dense)}
    reference["top1"] = bench.top1(dense)
    results.add(reference)
    target = int(reference["macs"] / args.reduction)
    print(f"== target MACs {target:,} ({args.reduction}x)", flush=True)

    def run(label: str, terms_for, prune) -> None:
        if args.only is not None and label not in args.only:
            return
        print(f"== {label}", flush=True)
        model = shortcut_a_to_b(pretrained())
        terms, state = terms_for(model)
        start = time.perf_counter()
        sparse_seconds = bench.train(model, args.sparse_epochs, terms, args.sparse_lr, 0)
        sparse_top1 = bench.top1(model)
        extra = prune(model, state)
        pruned_top1 = bench.top1(model)
        ft_seconds = bench.train(model, args.ft_epochs, [], args.ft_lr, 1)
        row = {
            "method": label,
            "top1_sparse": sparse_top1,
            "top1_before_ft": pruned_top1,
            "top1": bench.top1(model),
            "sparse_seconds": round(sparse_seconds, 1),
            "ft_seconds": round(ft_seconds, 1),
            "total_seconds": round(time.perf_counter() - start, 1),
            **extra,
            **bench.measure(model),
        }
        results.add(row)
        speedups(results.rows, reference)
        results.save()
        print(
            f"== {label}: top-1 {row['top1']:.4f} (before FT {pruned_top1:.4f}), "
            f"MACs {row['macs']:,}",
            flush=True,
        )

    def slimming(method: str, penalty: str, kwargs: dict) -> Any:
        def terms_for(model: nn.Module) -> tuple[list[TrainingTerm], Any]:
            cfg = BNSparsityConfig(
                method=method,
                penalty=penalty,
                penalty_kwargs=kwargs,
                lam=args.lam,
                beta=args.prox_beta,
                xi_init="gamma",
            )
            term = BNScaleSparsity(cfg, model)
            return [term], term

        return terms_for

    def prune_slimkit(model: nn.Module, term: BNScaleSparsity) -> dict[str, Any]:
        zeros = int((term.sparse_vector(model) == 0).sum())
        removed = slimkit_prune(model, target / reference["macs"], size, args.round_to)
        return {"exact_zero_scales": zeros, "channels_removed": removed}

    run("NS ℓ1 (subgradient)", slimming("subgradient", "l1", {}), prune_slimkit)
    run("proximal ℓ1", slimming("proximal", "l1", {}), prune_slimkit)
    run("proximal tℓ1", slimming("proximal", "tl1", {"a": args.tl1_a}), prune_slimkit)

    def torch_pruning(pruner_cls: Any, importance: Any, reg: float) -> Any:
        def terms_for(model: nn.Module) -> tuple[list[TrainingTerm], Any]:
            pruner = make_tp_pruner(
                model, importance, pruner_cls, reg, size, [model.fc], round_to=args.round_to
            )
            return [TorchPruningRegularizer(pruner)], pruner

        return terms_for

    def prune_tp(model: nn.Module, pruner: Any) -> dict[str, Any]:
        model.cpu().eval()
        before = copy.deepcopy(model)
        tp_prune(model, pruner, target, size)
        removed = sum(
            a.out_channels - b.out_channels
            for a, b in zip(before.modules(), model.modules(), strict=True)
            if isinstance(a, nn.Conv2d)
        )
        return {"channels_removed": removed}

    run(
        "Torch-Pruning BNScalePruner",
        torch_pruning(tp.pruner.BNScalePruner, tp.importance.BNScaleImportance(), args.tp_bn_reg),
        prune_tp,
    )
    run(
        "Torch-Pruning GroupNormPruner",
        torch_pruning(
            tp.pruner.GroupNormPruner,
            tp.importance.GroupMagnitudeImportance(p=2),
            args.tp_group_reg,
        ),
        prune_tp,
    )

    def trp_terms(model: nn.Module) -> tuple[list[TrainingTerm], Any]:
        cfg = TRPConfig(energy=args.trp_energy, period=args.trp_period, nuclear=args.trp_nuclear)
        return [TrainedRankPruning(cfg, model)], None

    def factorize(model: nn.Module, _: Any) -> dict[str, Any]:
        model.cpu().eval()
        plan = plan_factorization(
            model,
            size,
            rule="macs",
            macs_target=target / reference["macs"],
            rank_multiple=16,
            max_cost_ratio=0.8,
        )
        factorize_model(model, plan.ranks, "spatial")
        return {"factorized_layers": len(plan.ranks)}

    run("TRP + nuclear (factorize)", trp_terms, factorize)
    speedups(results.rows, reference)
    results.save()
    print(render(results.data))


def render(result: dict[str, Any]) -> str:
    s = result["setup"]
    p = s["published_reference"]
    lines = [
        "# Every method from the pretrained ResNet-56 (CIFAR-10)",
        "",
        f"Start: `{s['weights']}` (akamaster ResNet-56, option A, ImageNet normalization). "
        f"Budget per method: {s['sparse_epochs']} epochs of regularized training (cosine from lr "
        f"{s['sparse_lr']}) on {s['train_images']:,} training images ({s['per_class']} per "
        f"class), pruning to {s['reduction']}x fewer MACs, then {s['ft_epochs']} fine-tuning "
        f"epochs (cosine from lr {s['ft_lr']}); batch {s['batch_size']}, SGD momentum 0.9, wd "
        f"1e-4. λ {s['lam']} for NS and proximal slimming (β {s['prox_beta']}, tℓ1 a "
        f"{s['tl1_a']}); Torch-Pruning reg {s['tp_bn_reg']} (BNScale) / {s['tp_group_reg']} "
        f"(GroupNorm). Kept channels per group: a multiple of {s.get('round_to', 1)} "
        f"(slimkit's and Torch-Pruning's round_to). Top-1 on {s['test_images']:,} test images; ONNX Runtime on "
        f"{s['threads']} CPU threads; torch {s['torch']}, torch-pruning {s['torch_pruning']}. "
        f"Total {result.get('total_seconds', 0) / 60:.1f} min.",
        "",
        "| method | top-1 after FT | top-1 before FT | top-1 after sparse training | params | "
        "MACs | MACs reduction | ORT bs1 ms | ORT bs32 ms | ORT speed-up bs32 | seconds |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]

    def pct(v: float | None) -> str:
        return "" if v is None else f"{100 * v:.2f}"

    for r in result["rows"]:
        lat = r["latency_ms"]
        lines.append(
            f"| {r['method']} | {pct(r['top1'])} | {pct(r.get('top1_before_ft'))} | "
            f"{pct(r.get('top1_sparse'))} | {r['params']:,} | {r['macs'] / 1e6:.1f} M | "
            f"{r.get('macs_reduction', 1.0):.2f}x | {lat['ort_bs1']:.2f} | {lat['ort_bs32']:.1f} | "
            f"{r.get('ort_speedup_bs32', 1.0):.2f}x | {r.get('total_seconds', '')} |"
        )
    lines += [
        f"| {p['method']} | {p['top1']:.2f} | {p['top1_before']:.2f} (dense) | | | | "
        f"{p['macs_reduction']:.2f}x | | | | |",
        "",
        f"Command: `{result['command']}`",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
