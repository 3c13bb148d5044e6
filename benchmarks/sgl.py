"""Sparse group lasso by relaxed variable splitting: ℓ1, group ℓ2,1, ℓ1 + ℓ2,1, ℓ0 + ℓ2,1, dense.

Every method is a slimkit recipe run through :func:`slimkit.pipeline.run_recipe`, the same code
a user runs: ``train`` with the ``sgl`` term (auxiliary V, V ← prox of the penalty each step, β
×``growth`` every few epochs, W := V at the end) → ``prune`` with rule ``zero_filters`` (all-zero
filters removed through the dependency graph; element-wise zeros stay and are counted) →
``export`` → ``measure`` (ONNX Runtime latency at batch 1 and 32). No fine-tuning.

Setups, each with one budget shared by all its methods:

- ``lenet5``: LeNet-5 on the bundled digits (every conv/linear but the first conv and the
  classifier regularized);
- ``wrn``: WRN-16-2 on a class-balanced CIFAR-10 subset, the first conv of every block
  regularized (as in the official WRN code, digest §6.3).

The penalties are compared at equal element-wise thresholds ``t`` (the level below which a
weight of V becomes 0 at β₀) and one group threshold ``g`` per unit √|group|:

- ℓ1: λ = β₀·t (soft threshold t);
- group ℓ2,1: λ = β₀·g;
- ℓ1 + ℓ2,1: λ = β₀·t, group weight g/t;
- ℓ0 + ℓ2,1: λ = β₀·t²/2 (hard threshold √(2λ/β₀) = t), group weight g/(t²/2).

ℓ1 shrinks every surviving weight by t while ℓ0 leaves them intact, so at one accuracy ℓ0 can
afford a larger t. Each method runs at every threshold of ``--thresholds``; the table lists all
runs and the plot shows top-1 against weight sparsity.

Command:
    .venv/bin/python benchmarks/sgl.py [--setups lenet5 wrn] [--wrn-per-class 300]
        [--wrn-epochs 6]

Writes ``benchmarks/results/sgl.{json,md}`` and ``sgl_frontier.png`` after every run.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import torch
from harness import REPO, RESULTS, Results

from slimkit.models import build_model
from slimkit.pipeline import run_recipe
from slimkit.recipes import recipe_from_dict
from slimkit.report import new_figure, save_figure

PENALTIES = {
    "ℓ1": "l1",
    "group ℓ2,1": "group_l21",
    "ℓ1 + ℓ2,1": "l1_l21",
    "ℓ0 + ℓ2,1": "l0_l21",
}


def term_for(label: str, t: float, g: float, beta: float, growth: dict, layers) -> dict:
    """The ``sgl`` term of method ``label`` at element threshold ``t`` and group threshold ``g``."""
    penalty = PENALTIES[label]
    if penalty == "l1":
        lam, kwargs = beta * t, {}
    elif penalty == "group_l21":
        lam, kwargs = beta * g, {}
    elif penalty == "l1_l21":
        lam, kwargs = beta * t, {"elem_weight": 1.0, "group_weight": g / t}
    else:
        lam, kwargs = beta * t * t / 2, {"elem_weight": 1.0, "group_weight": g / (t * t / 2)}
    return {
        "name": "sgl",
        "penalty": penalty,
        "penalty_kwargs": kwargs,
        "lam": lam,
        "group_lam": 0.0,
        "beta": beta,
        "layers": layers,
        **growth,
    }


def setups(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    """The recipe skeleton (model, data, train stage) of each setup."""
    wrn_layers = [
        n for n, _ in build_model("wrn16_2").named_modules() if n.endswith(".conv1") and "." in n
    ]
    root = os.environ.get("SLIMKIT_DATA", str(REPO / ".cache" / "data"))
    return {
        "lenet5": {
            "model": {"name": "lenet5"},
            "data": {
                "name": "digits",
                "batch_size": 64,
                "augment": {"crop_padding": 2, "hflip": False},
            },
            "train": {
                "epochs": args.lenet_epochs,
                "optimizer": {"name": "adamw", "lr": 0.003, "weight_decay": 0.0},
                "schedule": {"name": "cosine", "warmup_epochs": 1},
            },
            "beta": 0.05,
            "growth": {"beta_growth": 1.25, "beta_every": 3},
            "layers": None,
            "thresholds": args.lenet_thresholds,
            "group": args.lenet_group,
        },
        "wrn": {
            "model": {"name": "wrn16_2"},
            "data": {
                "name": "cifar10",
                "root": root,
                "subset_per_class": args.wrn_per_class,
                "batch_size": 64,
            },
            "train": {
                "epochs": args.wrn_epochs,
                "optimizer": {
                    "name": "sgd",
                    "lr": 0.05,
                    "momentum": 0.9,
                    "nesterov": True,
                    "weight_decay": 5e-4,
                },
                "schedule": {"name": "cosine"},
            },
            "beta": args.wrn_beta,
            "growth": {"beta_growth": 1.25, "beta_every": 2},
            "layers": wrn_layers,
            "thresholds": args.wrn_thresholds,
            "group": args.wrn_group,
        },
    }


def run_one(setup: dict[str, Any], method: str, term: dict | None, threads: int) -> dict[str, Any]:
    """Run one method's recipe and return its row."""
    stages: list[dict[str, Any]] = [
        {
            "kind": "train",
            **setup["train"],
            "eval_every": setup["train"]["epochs"],
            "terms": [term] if term else [],
        },
    ]
    if term:
        stages.append({"kind": "prune", "rule": "zero_filters"})
    stages += [
        {"kind": "export"},
        {
            "kind": "measure",
            "batch_sizes": [1, 32],
            "threads": threads,
            "runtimes": ["ort"],
            "repeats": 30,
        },
    ]
    recipe = recipe_from_dict(
        {
            "name": f"sgl-{method}",
            "model": setup["model"],
            "data": setup["data"],
            "runtime": {"quiet": True, "log_every": 50},
            "stages": stages,
        }
    )
    with tempfile.TemporaryDirectory() as tmp:
        report = run_recipe(recipe, Path(tmp) / "run", quiet=True, echo=lambda line: None)
    train = report["stages"][0]
    prune = report["stages"][1] if term else {}
    return {
        "top1_after_train": train["top1"],
        "top1": report["final"]["top1"],
        "weight_sparsity": train.get("weight_sparsity", 0.0),
        "weight_sparsity_all": prune.get("weight_sparsity_after"),
        "filters_removed": prune.get("filters_removed", 0),
        "params": report["final"]["params"],
        "macs": report["final"]["macs"],
        "params_before": report["initial"]["params"],
        "macs_before": report["initial"]["macs"],
        "latency_ms": report["final"]["latency_ms"],
        "train_seconds": train["seconds"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--setups", nargs="+", default=["lenet5", "wrn"])
    parser.add_argument("--lenet-epochs", type=int, default=12)
    parser.add_argument(
        "--lenet-thresholds", type=float, nargs="+", default=[0.01, 0.02, 0.04, 0.06, 0.08]
    )
    parser.add_argument("--lenet-group", type=float, default=0.002)
    parser.add_argument("--wrn-per-class", type=int, default=300)
    parser.add_argument("--wrn-epochs", type=int, default=6)
    parser.add_argument("--wrn-thresholds", type=float, nargs="+", default=[0.02, 0.04])
    parser.add_argument("--wrn-group", type=float, default=0.002)
    parser.add_argument("--wrn-beta", type=float, default=0.5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--keep-other-setups",
        action="store_true",
        help="keep the rows (and settings) of setups not run now from the previous results",
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    results = Results("sgl", vars(args), render)
    previous = RESULTS / "sgl.json"
    if args.keep_other_setups and previous.is_file():
        old = json.loads(previous.read_text())
        results.rows.extend(r for r in old["rows"] if r["setup"] not in args.setups)
        results.data["earlier_commands"] = [old["command"], *old.get("earlier_commands", [])]
    for name in args.setups:
        setup = setups(args)[name]
        print(f"== {name}: dense", flush=True)
        row = {"setup": name, "method": "dense", "threshold": None}
        results.add({**row, **run_one(setup, "dense", None, args.threads)})
        for label in PENALTIES:
            grid = [None] if label == "group ℓ2,1" else setup["thresholds"]
            for t in grid:
                term = term_for(
                    label, t or 0.0, setup["group"], setup["beta"], setup["growth"], setup["layers"]
                )
                print(f"== {name}: {label} t={t} λ={term['lam']:.3g}", flush=True)
                row = {
                    "setup": name,
                    "method": label,
                    "threshold": t,
                    "lam": term["lam"],
                    "penalty_kwargs": term["penalty_kwargs"],
                }
                results.add({**row, **run_one(setup, label, term, args.threads)})
                print(
                    f"   top-1 {results.rows[-1]['top1']:.4f}, weight sparsity "
                    f"{results.rows[-1]['weight_sparsity']:.3f}, filters removed "
                    f"{results.rows[-1]['filters_removed']}",
                    flush=True,
                )
                plot(results.rows)
    print(render(results.data))


def plot(rows: list[dict[str, Any]]) -> None:
    """Top-1 against weight sparsity, one panel per setup (``RESULTS/sgl_frontier.png``)."""
    names = sorted({r["setup"] for r in rows})
    fig, axes = new_figure(1, len(names), figsize=(5.0 * len(names), 4.0))
    axes = list(getattr(axes, "flat", [axes]))
    for ax, name in zip(axes, names, strict=False):
        for method in ["dense", *PENALTIES]:
            pts = [r for r in rows if r["setup"] == name and r["method"] == method]
            if pts:
                xs = [100 * r["weight_sparsity"] for r in pts]
                ax.plot(xs, [100 * r["top1"] for r in pts], marker="o", label=method)
        ax.set_title(name)
        ax.set_xlabel("% exactly-zero weights (regularized layers)")
        ax.set_ylabel("top-1 % (no fine-tuning)")
        ax.legend(fontsize=8)
    save_figure(fig, RESULTS / "sgl_frontier.png")


def render(result: dict[str, Any]) -> str:
    s = result["setup"]
    lines = [
        "# Sparse group lasso by relaxed variable splitting: penalties at one budget",
        "",
        f"LeNet-5 on digits: {s['lenet_epochs']} epochs, AdamW lr 0.003 cosine, β₀ 0.05 ×1.25 every "
        f"3 epochs, group threshold {s['lenet_group']}. WRN-16-2 on CIFAR-10 "
        f"({s['wrn_per_class']} images per class): {s['wrn_epochs']} epochs, SGD Nesterov lr 0.05 "
        f"cosine, wd 5e-4, β₀ {s.get('wrn_beta', 0.5)} ×1.25 every 2 epochs, group threshold {s['wrn_group']}, block "
        f"conv1s regularized. No fine-tuning; `t` is the element-wise threshold at β₀ (see the "
        f"script's docstring for λ). ONNX Runtime on {s['threads']} threads; torch {s['torch']}. "
        f"Total {result.get('total_seconds', 0) / 60:.1f} min.",
        "",
        "| setup | method | t | top-1 | weight sparsity | filters removed | params | MACs | "
        "ORT bs1 ms | ORT bs32 ms | train s |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in result["rows"]:
        lat = r["latency_ms"]
        t = "" if r["threshold"] is None else f"{r['threshold']:g}"
        lines.append(
            f"| {r['setup']} | {r['method']} | {t} | {100 * r['top1']:.2f} | "
            f"{100 * r['weight_sparsity']:.1f} % | {r['filters_removed']} | "
            f"{r['params']:,} ({r['params'] / r['params_before']:.0%}) | "
            f"{r['macs'] / 1e6:.2f} M ({r['macs'] / r['macs_before']:.0%}) | "
            f"{lat['ort_bs1']:.3f} | {lat['ort_bs32']:.2f} | {r['train_seconds']:.0f} |"
        )
    lines += [
        "",
        "![top-1 vs weight sparsity](sgl_frontier.png)",
        "",
        f"Command: `{result['command']}`",
    ]
    lines += [f"Rows of the other setup from: `{c}`" for c in result.get("earlier_commands", [])]
    lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
