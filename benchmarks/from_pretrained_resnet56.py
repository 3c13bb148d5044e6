"""Compress the pretrained ResNet-56 (93.39 %) with every method, each tuned on a val split.

Start: akamaster's CIFAR-10 ResNet-56 (option-A shortcuts, ImageNet normalization) from
``../shared/weights``. Each method gets the same budget on the same class-balanced CIFAR-10
training subset (a validation split of ``--val-per-class`` images per class is carved out of the
training set first):

1. ``--sparse-epochs`` epochs of its own regularized training from the pretrained weights
   (cosine from ``--sparse-lr``);
2. pruning to the same MACs target, ``--reduction`` x fewer MACs than the dense model
   (``select_channels(..., "macs")`` for slimkit's methods: the lowest-|γ| coupled channels go
   first, so proximal methods lose their exact zeros first; Torch-Pruning's own global iterative
   pruner for its methods; TRP's spatial factorization at the same target);
3. ``--ft-epochs`` epochs of fine-tuning (cosine from ``--ft-lr``), identical for every method.

Each method's one hyperparameter (λ for NS and proximal slimming, ``reg`` for Torch-Pruning, the
nuclear weight for TRP) is chosen by an Optuna grid sweep with the same number of trials, on a
smaller subset (``--sweep-per-class``), scored by top-1 on the validation split; NS also runs at
its paper λ (1e-4). "dense, same total epochs" fine-tunes the pretrained model for the same epochs
without a regularizer. For every method the option-A model is first converted exactly to option B
(``shortcut_a_to_b``), because a dependency graph cannot follow the zero-padding shortcut. Top-1 is
on the test set (used for the final rows only); params, MACs and ONNX Runtime latency at batch 1
and 32.

Command:
    nice .venv/bin/python benchmarks/from_pretrained_resnet56.py [--per-class 300]
        [--sparse-epochs 3] [--ft-epochs 3] [--reduction 2.0]

Writes ``benchmarks/results/from_pretrained_resnet56.{json,md}`` after every method.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import torch
import torch_pruning as tp
from harness import (
    REPO,
    Bench,
    Results,
    TorchPruningRegularizer,
    add_sweep_arguments,
    grid_sweep,
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
    parser.add_argument("--per-class", type=int, default=300)
    parser.add_argument("--val-per-class", type=int, default=200)
    parser.add_argument("--sparse-epochs", type=int, default=3)
    parser.add_argument("--ft-epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--sparse-lr", type=float, default=0.02)
    parser.add_argument("--ft-lr", type=float, default=0.01)
    parser.add_argument("--reduction", type=float, default=2.0)
    parser.add_argument("--ns-paper-lam", type=float, default=1e-4, help="NS paper λ (CIFAR)")
    add_sweep_arguments(parser, grid=[1e-4, 1e-3, 1e-2, 5e-2], per_class=100, epochs=2)
    parser.add_argument(
        "--trp-grid", type=float, nargs="+", default=[3e-5, 3e-4, 3e-3, 3e-2],
        help="TRP nuclear-norm weights (as many trials as the other sweeps)",
    )  # fmt: skip
    parser.add_argument("--prox-beta", type=float, default=10.0)
    parser.add_argument("--tl1-a", type=float, default=1.0)
    parser.add_argument("--trp-energy", type=float, default=0.9)
    parser.add_argument("--trp-period", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--round-to", type=int, default=8, help="kept channels per group: a multiple of this"
    )
    parser.add_argument("--test-per-class", type=int, default=None, help="(smoke runs only)")
    parser.add_argument("--only", nargs="*", default=None, help="run only these methods")
    parser.add_argument("--tag", default="", help="write from_pretrained_resnet56_<tag>.*")
    args = parser.parse_args()
    if not WEIGHTS.is_file():
        raise SystemExit(f"error: {WEIGHTS} not found (../shared/weights ships beside the repo)")
    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)

    def make_bench(per_class: int) -> Bench:
        return Bench(
            "cifar10", per_class=per_class, batch_size=args.batch_size, threads=args.threads,
            mean=IMAGENET_MEAN, std=IMAGENET_STD, test_per_class=args.test_per_class,
            val_per_class=args.val_per_class,
        )  # fmt: skip

    bench, sweep_bench = make_bench(args.per_class), make_bench(args.sweep_per_class)
    results = Results(
        "from_pretrained_resnet56" + (f"_{args.tag}" if args.tag else ""),
        {
            **vars(args),
            "weights": str(WEIGHTS.relative_to(REPO.parent)),
            "train_images": len(bench.data.train),
            "val_images": len(bench.val_data),
            "sweep_images": len(sweep_bench.data.train),
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
    fraction = 1.0 / args.reduction

    def slimming(method: str, penalty: str, kwargs: dict) -> Any:
        def terms_for(model: nn.Module, lam: float) -> tuple[list[TrainingTerm], Any]:
            cfg = BNSparsityConfig(
                method=method, penalty=penalty, penalty_kwargs=kwargs, lam=lam,
                beta=args.prox_beta, xi_init="gamma",
            )  # fmt: skip
            term = BNScaleSparsity(cfg, model)
            return [term], term

        return terms_for

    def prune_slimkit(model: nn.Module, term: BNScaleSparsity) -> dict[str, Any]:
        zeros = int((term.sparse_vector(model) == 0).sum())
        removed = slimkit_prune(model, fraction, size, args.round_to)
        return {"exact_zero_scales": zeros, "channels_removed": removed}

    def torch_pruning(pruner_cls: Any, importance: Any) -> Any:
        def terms_for(model: nn.Module, reg: float) -> tuple[list[TrainingTerm], Any]:
            pruner = make_tp_pruner(
                model, importance, pruner_cls, reg, size, [model.fc], steps=300,
                round_to=args.round_to,
            )  # fmt: skip
            return [TorchPruningRegularizer(pruner)], pruner

        return terms_for

    def prune_tp(model: nn.Module, pruner: Any) -> dict[str, Any]:
        model.cpu().eval()
        tp_prune(model, pruner, int(fraction * reference["macs"]), size)
        return {}

    def trp_terms(model: nn.Module, nuclear: float) -> tuple[list[TrainingTerm], Any]:
        cfg = TRPConfig(energy=args.trp_energy, period=args.trp_period, nuclear=nuclear)
        return [TrainedRankPruning(cfg, model)], None

    def factorize(model: nn.Module, _: Any) -> dict[str, Any]:
        model.cpu().eval()
        plan = plan_factorization(
            model, size, rule="macs", macs_target=fraction, rank_multiple=16, max_cost_ratio=0.8
        )
        factorize_model(model, plan.ranks, "spatial")
        return {"factorized_layers": len(plan.ranks)}

    def no_terms(model: nn.Module, _: float) -> tuple[list[TrainingTerm], Any]:
        return [], None

    def keep(model: nn.Module, _: Any) -> dict[str, Any]:
        return {}

    grid, trp_grid = args.grid, args.trp_grid
    methods = [
        ("dense, same total epochs", no_terms, keep, None),
        (f"NS ℓ1 at the paper λ {args.ns_paper_lam:g}", slimming("subgradient", "l1", {}),
         prune_slimkit, [args.ns_paper_lam]),
        ("NS ℓ1 (subgradient), λ swept", slimming("subgradient", "l1", {}), prune_slimkit, grid),
        ("proximal ℓ1", slimming("proximal", "l1", {}), prune_slimkit, grid),
        ("proximal tℓ1", slimming("proximal", "tl1", {"a": args.tl1_a}), prune_slimkit, grid),
        ("Torch-Pruning BNScalePruner",
         torch_pruning(tp.pruner.BNScalePruner, tp.importance.BNScaleImportance()), prune_tp, grid),
        ("Torch-Pruning GroupNormPruner",
         torch_pruning(tp.pruner.GroupNormPruner, tp.importance.GroupMagnitudeImportance(p=2)),
         prune_tp, grid),
        ("TRP + nuclear (factorize)", trp_terms, factorize, trp_grid),
    ]  # fmt: skip

    def once(b: Bench, terms_for, prune, hyper: float, sparse: int, ft: int, score) -> dict:
        model = shortcut_a_to_b(pretrained())
        terms, state = terms_for(model, hyper)
        start = time.perf_counter()
        b.train(model, sparse, terms, args.sparse_lr, 0)
        top1_sparse = score(model)
        extra = prune(model, state)
        before_ft = score(model)
        if ft:
            b.train(model, ft, [], args.ft_lr, 1)
        return {
            "score": score(model), "top1_sparse": top1_sparse, "top1_before_ft": before_ft,
            "total_seconds": round(time.perf_counter() - start, 1), "model": model, **extra,
        }  # fmt: skip

    sweeps: dict[str, Any] = {}
    for label, terms_for, prune, values in methods:
        if args.only is not None and label not in args.only:
            continue
        print(f"== {label}", flush=True)
        hyper = 0.0
        if values and len(values) > 1:

            def objective(v: float, terms_for=terms_for, prune=prune) -> dict[str, Any]:
                out = once(
                    sweep_bench, terms_for, prune, v, args.sweep_epochs,
                    args.sweep_ft_epochs, sweep_bench.val_top1,
                )  # fmt: skip
                return {k: x for k, x in out.items() if k != "model"}

            sweeps[label] = grid_sweep(objective, values, label)
            hyper = sweeps[label]["best"]
        elif values:
            hyper = values[0]
        if label.startswith("dense"):
            model = pretrained()
            start = time.perf_counter()
            bench.train(model, args.sparse_epochs + args.ft_epochs, [], args.sparse_lr, 0)
            out = {"score": bench.top1(model), "model": model,
                   "total_seconds": round(time.perf_counter() - start, 1)}  # fmt: skip
        else:
            out = once(
                bench, terms_for, prune, hyper, args.sparse_epochs, args.ft_epochs, bench.top1
            )
        model = out.pop("model")
        row = {"method": label, "hyper": hyper if values else None, **out, "top1": out["score"]}
        row.update(bench.measure(model))
        results.add(row)
        speedups(results.rows, reference)
        results.save(sweeps=sweeps)
        print(f"== {label}: top-1 {row['top1']:.4f}, MACs {row['macs']:,}", flush=True)
    speedups(results.rows, reference)
    results.save(sweeps=sweeps)
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
        f"1e-4; proximal β {s['prox_beta']}, tℓ1 a {s['tl1_a']}. Each method's λ / reg (TRP: "
        f"nuclear weight) is chosen by an Optuna grid sweep with {len(s['grid'])} trials on "
        f"{s['sweep_images']:,} training images ({s['sweep_epochs']} + "
        f"{s['sweep_ft_epochs']} epochs), scored by top-1 on a {s['val_images']:,}-image "
        f"validation split carved from the training set; NS also runs at its paper λ. "
        f"Kept channels per group: a multiple of {s.get('round_to', 1)} "
        f"(slimkit's and Torch-Pruning's round_to). Top-1 on {s['test_images']:,} test images; ONNX Runtime on "
        f"{s['threads']} CPU threads; torch {s['torch']}, torch-pruning {s['torch_pruning']}. "
        f"Total {result.get('total_seconds', 0) / 60:.1f} min.",
        "",
        "| method | λ / reg | top-1 after FT | top-1 before FT | top-1 after sparse training | "
        "params | MACs | MACs reduction | ORT bs1 ms | ORT bs32 ms | ORT speed-up bs32 | seconds |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]

    def pct(v: float | None) -> str:
        return "" if v is None else f"{100 * v:.2f}"

    for r in result["rows"]:
        lat = r["latency_ms"]
        hyper = "" if r.get("hyper") is None else f"{r['hyper']:g}"
        lines.append(
            f"| {r['method']} | {hyper} | "
            f"{pct(r['top1'])} | {pct(r.get('top1_before_ft'))} | "
            f"{pct(r.get('top1_sparse'))} | {r['params']:,} | {r['macs'] / 1e6:.1f} M | "
            f"{r.get('macs_reduction', 1.0):.2f}x | {lat['ort_bs1']:.2f} | {lat['ort_bs32']:.1f} | "
            f"{r.get('ort_speedup_bs32', 1.0):.2f}x | {r.get('total_seconds', '')} |"
        )
    lines += [
        f"| {p['method']} | | {p['top1']:.2f} | {p['top1_before']:.2f} (dense) | | | | "
        f"{p['macs_reduction']:.2f}x | | | | |",
        "",
    ]
    for label, sw in result.get("sweeps", {}).items():
        cells = ", ".join(f"{t['hyper']:g}: {100 * t['score']:.2f}" for t in sw["trials"])
        lines.append(f"- sweep {label} (val top-1): {cells}; chosen {sw['best']:g}")
    lines += ["", f"Command: `{result['command']}`", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
