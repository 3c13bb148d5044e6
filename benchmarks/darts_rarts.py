"""DARTS (first and second order) vs RARTS: search cost, derived cells, retrained accuracy.

Part 1, the solvable model (:mod:`slimkit.nas.solvable`, the digest's linear-quadratic
surrogate): each method's closed-form fixed point, the fixed point its iterations reach, and the
upper-level objective F there; plot ``darts_rarts_solvable.png``.

Part 2, CIFAR-10 at CPU scale: the three shipped search recipes
(``recipes/cifar10_darts_{1st_,2nd_,}search_cpu.yaml``: the same 5-cell, 8-channel supernet, data,
epochs and optimizers; only ``method`` differs) each run once per search seed; then every
derived genotype, DARTS-V2's published genotype and one random genotype are retrained with the
same recipe (``recipes/cifar10_darts_retrain_cpu.yaml``: same data, epochs, optimizer, seed).
Search cost is measured in the same run (seconds per epoch, measured passes per iteration).

Usage::

    nice .venv/bin/python benchmarks/darts_rarts.py [--search-seeds 0] [--retrain-seeds 0] \
        > benchmarks/results/darts_rarts.log 2>&1

Writes ``benchmarks/results/darts_rarts.{json,md}`` after every run (a crash keeps the rows).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from slimkit.nas.genotype import NAMED_GENOTYPES, OPS, Genotype
from slimkit.nas.plots import plot_solvable
from slimkit.nas.solvable import SolvableModel

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
RUNS = REPO / "runs" / "bench-darts-rarts"
SEARCH_RECIPES = {
    "darts_1st": "recipes/cifar10_darts_1st_search_cpu.yaml",
    "darts_2nd": "recipes/cifar10_darts_2nd_search_cpu.yaml",
    "rarts": "recipes/cifar10_darts_search_cpu.yaml",
}
RETRAIN = "recipes/cifar10_darts_retrain_cpu.yaml"


def solvable_part() -> dict[str, Any]:
    """Closed forms vs iterates on the scalar and the vector surrogate."""
    out: dict[str, Any] = {}
    lr = 0.025  # weight lr; DARTS-2nd's ξ = lr
    for name, model in (("scalar", SolvableModel.scalar()), ("vector", SolvableModel.random())):
        optimum = model.fixed_point("bilevel")
        rows, trajectories, fixed = [], {}, {}
        settings = [("darts_1st", {}), ("darts_2nd", {"xi": lr}), ("rarts", {"lam": 1, "beta": 1}),
                    ("rarts", {"lam": 10, "beta": 10}), ("rarts", {"lam": 100, "beta": 100})]  # fmt: skip
        for method, kw in settings:
            label = method + (
                "" if not kw or method != "rarts" else f" λ={kw['lam']}, β={kw['beta']}"
            )
            closed = model.fixed_point(method, **kw)
            # a smaller step for the stiff (λ, β) = (100, 100) case keeps the iteration stable
            step = min(lr, 0.5 / (1 + kw.get("lam", 1) + kw.get("beta", 1)))
            traj = model.iterate(method, iterations=40000, lr=step, arch_lr=step, **kw)
            trajectories[label], fixed[label] = traj, closed
            rows.append({
                "method": label,
                "closed_form_alpha": closed.tolist(),
                "iterated_alpha": traj[-1].tolist(),
                "iterate_vs_closed": float(np.linalg.norm(traj[-1] - closed)),
                "F": model.objective(traj[-1]),
                "dist_to_optimum": float(np.linalg.norm(traj[-1] - optimum)),
            })  # fmt: skip
        out[name] = {
            "optimum": optimum.tolist(),
            "F_optimum": model.objective(optimum),
            "rows": rows,
        }
        if name == "vector":
            plot_solvable(trajectories, fixed, optimum, RESULTS / "darts_rarts_solvable.png")
    return out


def slimkit_run(recipe: str, out: Path, overrides: list[str]) -> dict[str, Any]:
    """Run a recipe in a fresh process; return its report and wall seconds."""
    if out.exists():
        subprocess.run(["rm", "-rf", str(out)], check=True)
    cmd = [sys.executable, "-m", "slimkit", "run", recipe, "--out", str(out), "-q", *overrides]
    print("$", " ".join(cmd), flush=True)
    start = time.perf_counter()
    subprocess.run(cmd, cwd=REPO, check=True)
    report = json.loads((out / "report.json").read_text())
    report["wall_seconds"] = round(time.perf_counter() - start, 1)
    return report


def random_genotype(seed: int) -> Genotype:
    """A uniformly random cell (two distinct inputs per node, a random non-none op each)."""
    rng = np.random.default_rng(seed)
    cells = []
    for _ in range(2):
        nodes = []
        for node in range(4):
            inputs = rng.choice(node + 2, size=2, replace=False)
            nodes.append(tuple((str(rng.choice(OPS[1:])), int(i)) for i in inputs))
        cells.append(tuple(nodes))
    return Genotype(normal=cells[0], reduce=cells[1])  # type: ignore[arg-type]


def describe(genotype: dict[str, Any]) -> str:
    g = Genotype.from_dict(genotype)
    return " ".join(f"{op}<-{src}" for node in g.normal for op, src in node)


def render(data: dict[str, Any]) -> str:
    lines = [
        "# DARTS (1st, 2nd order) vs RARTS",
        "",
        f"Command: `{data['command']}`; {data['host']}. Search seeds {data['search_seeds']}, "
        f"retrain seeds {data['retrain_seeds']} (one run per cell: the CPU budget of one session "
        "allows no more; single runs mislead, as the DARTS README warns).",
        "",
        "## Solvable model (digest §1.5 surrogate; closed form vs 40,000 iterations)",
        "",
    ]
    for name, part in data["solvable"].items():
        lines += [
            f"**{name}** case: bilevel optimum α* = {np.round(part['optimum'], 4).tolist()}, "
            f"F(α*) = {part['F_optimum']:.4f}",
            "",
            "| method | closed-form α | iterated α | ‖iterate − closed‖ | F (lower is better) | ‖α − α*‖ |",
            "|---|---|---|---:|---:|---:|",
        ]
        for r in part["rows"]:
            lines.append(
                f"| {r['method']} | {np.round(r['closed_form_alpha'], 4).tolist()} | "
                f"{np.round(r['iterated_alpha'], 4).tolist()} | {r['iterate_vs_closed']:.1e} | "
                f"{r['F']:.4f} | {r['dist_to_optimum']:.3f} |"
            )
        lines.append("")
    lines += [
        "Plot: `darts_rarts_solvable.png` (vector case).",
        "",
        "## Search on CIFAR-10 (CPU scale)",
        "",
    ]
    lines += [
        "5-cell, 8-channel supernet; 2,000 training images (200/class) split 50/50 into train and "
        "val; batch 32; 3 epochs (93 iterations); weights SGD lr 0.025 cosine, α Adam lr 3e-3. "
        "Seconds are wall seconds of the search iterations (evaluation excluded) on 2 cores.",
        "",
        "| method | seed | passes / iteration | s / epoch | s / iteration | search wall s | supernet val top-1 | supernet test top-1 | skips (normal/reduce) | normal cell |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for r in data["searches"]:
        lines.append(
            f"| {r['method']} | {r['seed']} | {r['passes_per_iter']:.1f} | {r['seconds_per_epoch']:.0f} | "
            f"{r['seconds_per_iter']:.2f} | {r['wall_seconds']:.0f} | {r['val_top1']:.4f} | "
            f"{r['test_top1']:.4f} | {r['skips'][0]}/{r['skips'][1]} | `{describe(r['genotype'])}` |"
        )
    ratio = data.get("rarts_over_darts2nd_seconds")
    if ratio is not None:
        lines += ["", f"RARTS seconds per epoch / DARTS-2nd seconds per epoch = **{ratio:.3f}**."]
    lines += [
        "",
        "## Retraining the derived cells (one fixed budget)",
        "",
        "`recipes/cifar10_darts_retrain_cpu.yaml`: darts_net, 8 cells, 16 channels, auxiliary 0.4, "
        "drop-path 0.1, 3,000 training images (300/class), 8 epochs, SGD lr 0.025 cosine; test "
        "top-1 on 2,000 test images (200/class).",
        "",
        "| genotype | seed | params | MACs | test top-1 | ORT bs1 ms | retrain wall s |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in data["retrains"]:
        lines.append(
            f"| {r['genotype_name']} | {r['seed']} | {r['params']:,} | {r['macs']:,} | "
            f"{r['top1']:.4f} | {r['latency_ms'].get('ort_bs1', float('nan')):.2f} | {r['wall_seconds']:.0f} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--search-seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--retrain-seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--skip-retrain", action="store_true")
    args = parser.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    command = "nice .venv/bin/python benchmarks/darts_rarts.py " + " ".join(sys.argv[1:])
    import torch

    data: dict[str, Any] = {
        "command": command.strip(),
        "host": f"torch {torch.__version__}, 2 threads",
        "search_seeds": args.search_seeds,
        "retrain_seeds": args.retrain_seeds,
        "solvable": solvable_part(),
        "searches": [],
        "retrains": [],
    }

    def save() -> None:
        (RESULTS / "darts_rarts.json").write_text(json.dumps(data, indent=1))
        (RESULTS / "darts_rarts.md").write_text(render(data))

    save()
    genotypes: dict[str, Path] = {}
    for seed in args.search_seeds:
        for method, recipe in SEARCH_RECIPES.items():
            out = RUNS / f"search-{method}-s{seed}"
            report = slimkit_run(recipe, out, [f"seed={seed}", "runtime.threads=2"])
            stage = report["stages"][0]
            data["searches"].append({
                "method": method, "seed": seed,
                "passes_per_iter": stage["passes_per_iter"],
                "seconds_per_epoch": stage["seconds_per_epoch"],
                "seconds_per_iter": stage["seconds_per_iter"],
                "search_seconds": stage["seconds"], "wall_seconds": report["wall_seconds"],
                "val_top1": stage["val_top1"], "test_top1": report["final"]["top1"],
                "skips": [stage["skip_connects"]["normal"], stage["skip_connects"]["reduce"]],
                "skip_history": stage["skip_history"],
                "genotype": stage["genotype"], "alpha": stage["alpha"],
                "supernet_params": stage["supernet_params"],
            })  # fmt: skip
            genotypes[f"{method} (seed {seed})"] = out / "genotype.json"
            save()
    by = {(r["method"], r["seed"]): r["seconds_per_epoch"] for r in data["searches"]}
    ratios = [by[("rarts", s)] / by[("darts_2nd", s)] for s in args.search_seeds]
    data["rarts_over_darts2nd_seconds"] = float(np.mean(ratios))
    save()
    if args.skip_retrain:
        return
    RUNS.mkdir(parents=True, exist_ok=True)
    NAMED_GENOTYPES["darts_v2"].save(RUNS / "darts_v2.json")
    random_genotype(0).save(RUNS / "random0.json")
    genotypes["DARTS-V2 (published)"] = RUNS / "darts_v2.json"
    genotypes["random (seed 0)"] = RUNS / "random0.json"
    for seed in args.retrain_seeds:
        for index, (name, path) in enumerate(genotypes.items()):
            out = RUNS / f"retrain-{index}-s{seed}"
            report = slimkit_run(
                RETRAIN, out,
                [f"model.kwargs.genotype={path}", f"seed={seed}", "runtime.threads=2"],
            )  # fmt: skip
            final = report["final"]
            data["retrains"].append({
                "genotype_name": name, "seed": seed, "genotype_file": str(path.relative_to(REPO)),
                "genotype": json.loads(path.read_text()), "params": final["params"],
                "macs": final["macs"], "top1": final["top1"], "latency_ms": final["latency_ms"],
                "wall_seconds": report["wall_seconds"],
            })  # fmt: skip
            save()
    print(render(data))


if __name__ == "__main__":
    main()
