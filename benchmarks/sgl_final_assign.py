"""Sparse group lasso: what the end of training does to the model (``final_assign``).

Runs the shipped digits SGL recipes through ``slimkit run`` with ``final_assign`` ``auto``
(W := V only when ‖W − V‖/‖W‖ <= 0.05, else W is kept) and ``v`` (always W := V, the former
default), and, for ``digits_sgl_lenet5``, also with its former β schedule (×1.25 every 3 epochs).
Per run: top-1 at the last epoch (before the end of training), after it, after the prune stage,
the W–V gap, V's sparsity, removed filters and parameters.

Command:
    .venv/bin/python benchmarks/sgl_final_assign.py

Writes ``benchmarks/results/sgl_final_assign.{json,md}``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from harness import Results

REPO = Path(__file__).resolve().parent.parent
RUNS = [
    ("digits_sgl_lenet5", "auto", []),
    ("digits_sgl_lenet5", "v", []),
    (
        "digits_sgl_lenet5",
        "auto",
        ["stages.0.terms.0.beta_growth=1.25", "stages.0.terms.0.beta_every=3"],
    ),
    (
        "digits_sgl_lenet5",
        "v",
        ["stages.0.terms.0.beta_growth=1.25", "stages.0.terms.0.beta_every=3"],
    ),
    ("digits_lenet5_sgl_paper", "auto", []),
    ("digits_lenet5_sgl_paper", "v", []),
]


def run(recipe: str, assign: str, extra: list[str]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run"
        cmd = [
            sys.executable, "-m", "slimkit", "run", str(REPO / "recipes" / f"{recipe}.yaml"),
            f"stages.0.terms.0.final_assign={assign}", *extra, "--out", str(out), "-q",
        ]  # fmt: skip
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise SystemExit(proc.stderr[-2000:])
        report = json.loads((out / "report.json").read_text())
        events = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    train, prune = report["stages"][0], report["stages"][1]
    before = [e["test_top1"] for e in events if e.get("stage") == 0 and "test_top1" in e][-1]
    return {
        "recipe": recipe,
        "final_assign": assign,
        "overrides": extra,
        "top1_last_epoch": round(before, 4),
        "top1_after_assign": round(train["top1"], 4),
        "top1_after_prune": round(prune["top1"], 4),
        "w_v_gap": train["sgl_w_v_gap"],
        "assigned": train["sgl_final_assign"],
        "v_sparsity": round(train["weight_sparsity"], 4),
        "filters_removed": prune.get("filters_removed"),
        "params": report["final"]["params"],
        "params_dense": report["initial"]["params"],
        "seconds": round(report["total_seconds"], 1),
    }


def render(data: dict[str, Any]) -> str:
    lines = [
        "# Sparse group lasso: the end of training (`final_assign`)",
        "",
        f"Command: `{data['command']}`; torch {data['setup']['torch']}; 2 cores, seed 0.",
        "",
        "| recipe | overrides | final_assign | ‖W−V‖/‖W‖ | W := | V zeros | top-1 last epoch "
        "| after assign | after prune | filters removed | params | s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in data["rows"]:
        lines.append(
            f"| {r['recipe']} | {' '.join(r['overrides']) or '-'} | {r['final_assign']} "
            f"| {r['w_v_gap']:.3f} | {r['assigned']} | {r['v_sparsity']:.1%} "
            f"| {r['top1_last_epoch']:.3f} | {r['top1_after_assign']:.3f} "
            f"| {r['top1_after_prune']:.3f} | {r['filters_removed']} "
            f"| {r['params_dense']:,} -> {r['params']:,} | {r['seconds']:.0f} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    results = Results("sgl_final_assign", {"seed": 0}, render)
    for recipe, assign, extra in RUNS:
        row = results.add(run(recipe, assign, extra))
        print(row, flush=True)


if __name__ == "__main__":
    main()
