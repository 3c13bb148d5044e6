"""SiDT for detection: an FCOS on a Swin backbone, unpruned vs 20 % vs 40 % of the backbone pruned.

Every row is ``recipes/shapes_swin_sidt.yaml`` run end to end (``slimkit run`` in a fresh
process) with one switch changed, so data, optimizer, epochs and fine-tuning are the same:

- ``unpruned, same epochs``: no ``dim_search`` term and no prune stage; the search stage's and the
  fine-tuning stage's epochs are trained all the same (the recipe's two train stages).
- ``SiDT B``: as shipped, ``budget: B`` (fraction of the backbone's parameters, heads and MLP units
  of every Swin block; zero gates first, then the smallest |g|).
- ``magnitude B``: no ``dim_search`` term; the prune stage ranks the same dims by ℓ1 weight
  magnitude (``importance: l1``) to the same budget.

The search λ is the recipe's (0.02, the digits SiDT recipe's value); neither method was tuned
for detection (same tuning effort: none). mAP and mAP50 (pycocotools) on the shapes validation
images (the test split of this dataset: the recipes never select on it), params and MACs of the
whole detector and of its backbone, ONNX Runtime latency at batch 1 (the detector's ONNX file has
a fixed batch of 1), mean ± std over seeds. COCO128 is not on this machine: this is the same
protocol on the embedded procedural shapes data.

Command:
    nice python benchmarks/sidt_detection.py --seeds 0 1 2 > benchmarks/results/sidt_detection.log 2>&1
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
from pathlib import Path
from typing import Any

import yaml
from harness import RESULTS, Results, run_recipe

REPO = Path(__file__).resolve().parents[1]
RECIPE = REPO / "recipes" / "shapes_swin_sidt.yaml"
METRICS = ["map", "map50", "params", "backbone_params", "macs", "ort_bs1_ms", "seconds"]


def variant(base: dict[str, Any], method: str, budget: float, seed: int) -> dict[str, Any]:
    """The shipped recipe with one switch: ``method`` (unpruned, sidt, magnitude) and budget."""
    recipe = copy.deepcopy(base)
    recipe["seed"] = seed
    recipe["name"] = f"shapes_swin_{method}_{int(100 * budget)}_s{seed}"
    train, prune = recipe["stages"][0], recipe["stages"][1]
    assert train["kind"] == "train" and prune["kind"] == "prune"
    if method != "sidt":
        train.pop("terms", None)
    if method == "unpruned":
        recipe["stages"].pop(1)
    else:
        prune["budget"] = budget
        prune["importance"] = "gates" if method == "sidt" else "l1"
    return recipe


def row_of(report: dict[str, Any], method: str, budget: float, seed: int) -> dict[str, Any]:
    final = report["final"]
    prune = next((s for s in report["stages"] if s.get("rule") == "dims"), None)
    return {
        "method": method,
        "budget": budget,
        "seed": seed,
        "map": final["metrics"]["map"],
        "map50": final["metrics"]["map50"],
        "params": final["params"],
        "backbone_params": prune["searched_params_after"] if prune else None,
        "backbone_params_before": prune["searched_params_before"] if prune else None,
        "dims_removed": prune["dims_removed"] if prune else None,
        "exact_zero_gates": prune["exact_zero_gates"] if prune else None,
        "output_change": prune["output_change"] if prune else None,
        "map_before_finetune": prune["metrics"]["map"] if prune else None,
        "macs": final["macs"],
        "ort_bs1_ms": final["latency_ms"].get("ort_bs1"),
        "seconds": report["total_seconds"],
    }


def summary(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    groups: dict[tuple[str, float], list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault((r["method"], r["budget"]), []).append(r)
    out = []
    for (method, budget), runs in groups.items():
        entry: dict[str, Any] = {"method": method, "budget": budget,
                                 "seeds": [r["seed"] for r in runs]}  # fmt: skip
        for m in METRICS:
            values = [r[m] for r in runs if r[m] is not None]
            entry[m] = statistics.fmean(values) if values else None
            entry[f"{m}_std"] = statistics.stdev(values) if len(values) > 1 else 0.0
        entry["map_per_seed"] = [r["map"] for r in runs]
        entry["dims_removed"] = runs[0]["dims_removed"]
        entry["exact_zero_gates"] = runs[0]["exact_zero_gates"]
        out.append(entry)
    return out


def _label(e: dict[str, Any]) -> str:
    if e["method"] == "unpruned":
        return "unpruned, same epochs"
    name = "SiDT" if e["method"] == "sidt" else "magnitude (ℓ1)"
    return f"{name} {100 * e['budget']:.0f} %"


def render(data: dict[str, Any]) -> str:
    s = data["setup"]
    lines = [
        "# SiDT for detection: FCOS on a Swin backbone (procedural shapes)",
        "",
        f"Recipe `recipes/shapes_swin_sidt.yaml` for every row, one switch each (see "
        f"`benchmarks/sidt_detection.py`); seeds {s['seeds']}, mean ± std. Budget = fraction of "
        "the backbone's (the `features_only` Swin's) parameters, heads and MLP units of every "
        "block. mAP on the shapes validation images (64). COCO128 is not on this machine.",
        "",
        "| method | mAP | mAP per seed | mAP50 | backbone params | detector params | MACs | "
        "ORT bs1 ms | dims removed (heads / mlp) | s/run |",
        "|---|---:|---|---:|---:|---:|---:|---:|---|---:|",
    ]
    for e in summary(data["rows"]):
        removed = e["dims_removed"]
        dims = f"{removed['heads']} / {removed['mlp']}" if removed else ""
        backbone = f"{e['backbone_params']:,.0f}" if e["backbone_params"] else "(all)"
        lines.append(
            f"| {_label(e)} | {e['map']:.4f} ± {e['map_std']:.4f} | "
            f"{', '.join(f'{v:.4f}' for v in e['map_per_seed'])} | {e['map50']:.4f} ± "
            f"{e['map50_std']:.4f} | {backbone} | {e['params']:,.0f} | {e['macs'] / 1e6:.1f} M | "
            f"{e['ort_bs1_ms']:.2f} | {dims} | {e['seconds']:.0f} |"
        )
    lines += ["", f"Command: `{data['command']}`", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--budgets", type=float, nargs="+", default=[0.2, 0.4])
    parser.add_argument("--render-only", action="store_true", help="rewrite the markdown only")
    args = parser.parse_args()
    if args.render_only:
        data = json.loads((RESULTS / "sidt_detection.json").read_text())
        data["summary"] = summary(data["rows"])
        (RESULTS / "sidt_detection.json").write_text(json.dumps(data, indent=2) + "\n")
        (RESULTS / "sidt_detection.md").write_text(render(data))
        return
    base = yaml.safe_load(RECIPE.read_text())
    command = "nice python benchmarks/sidt_detection.py --seeds " + " ".join(map(str, args.seeds))
    results = Results("sidt_detection", {"seeds": args.seeds, "budgets": args.budgets}, render)
    plan = [("unpruned", 0.0)] + [(m, b) for b in args.budgets for m in ("sidt", "magnitude")]
    for seed in args.seeds:
        for method, budget in plan:
            report = run_recipe(variant(base, method, budget, seed))
            row = row_of(report, method, budget, seed)
            print(row, flush=True)
            results.add(row)
            results.save(command=command, summary=summary(results.rows))
    print(f"wrote {RESULTS / 'sidt_detection.md'}")


if __name__ == "__main__":
    main()
