"""The shipped recipes of the new tasks, run as a user would, with each task's trivial baseline.

Runs ``slimkit run`` on ``shapes_detection``, ``shapes_segmentation`` and
``cew_eyes_openness_regression`` (seed 0, as shipped) and records the task metrics beside the
baseline that a model must beat to have learned anything: map 0 for detection (no boxes),
``miou_background_only`` for segmentation (predict background everywhere, measured on the same
images by the task), and for regression the MAE and Spearman of the constant prediction equal to
the mean training target. One seed each: these show the tasks work end to end, they are not
method comparisons.

Command:
    .venv/bin/python benchmarks/task_recipes.py

Writes ``benchmarks/results/task_recipes.{json,md}`` (and the run directories under
``runs/bench-task-recipes/``, not committed).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
RECIPES = ["shapes_detection", "shapes_segmentation", "cew_eyes_openness_regression"]


def constant_regression_baseline(root: Path) -> dict[str, float]:
    """MAE and RMSE on the CEW test patches of predicting the mean training openness."""
    z = np.load(root / "cew_eyes" / "cew_eyes.npz")
    mean = float(z["y_train"].astype(np.float64).mean())
    y = z["y_test"].astype(np.float64)
    return {
        "mae": float(np.abs(y - mean).mean()),
        "rmse": float(np.sqrt(((y - mean) ** 2).mean())),
        "spearman": 0.0,  # a constant has no ranking (undefined; 0 as the no-skill value)
        "prediction": mean,
    }


def main() -> None:
    out_root = REPO / "runs" / "bench-task-recipes"
    rows = []
    for name in RECIPES:
        run_dir = out_root / name
        if run_dir.exists():
            subprocess.run(["rm", "-rf", str(run_dir)], check=True)
        cmd = [
            sys.executable,
            "-m",
            "slimkit",
            "run",
            f"recipes/{name}.yaml",
            "--out",
            str(run_dir),
            "-q",
        ]
        start = time.perf_counter()
        subprocess.run(cmd, cwd=REPO, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        seconds = time.perf_counter() - start
        report = json.loads((run_dir / "report.json").read_text())
        final = report["final"]
        row = {
            "recipe": name,
            "task": report["task"]["name"],
            "headline": final["headline"],
            "metrics": final["metrics"],
            "params": final["params"],
            "macs": final["macs"],
            "latency_ms": final["latency_ms"],
            "seconds": round(seconds, 1),
            "dataset": report["dataset"],
        }
        if name == "shapes_detection":
            row["baseline"] = {"map": 0.0, "map50": 0.0, "what": "no detections"}
        elif name == "shapes_segmentation":
            row["baseline"] = {
                "miou": final["metrics"]["miou_background_only"],
                "what": "background everywhere",
            }
        else:
            row["baseline"] = {
                **constant_regression_baseline(REPO.parent / "shared" / "data"),
                "what": "constant mean training openness",
            }
        rows.append(row)
    command = ".venv/bin/python benchmarks/task_recipes.py"
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "task_recipes.json").write_text(
        json.dumps({"command": command, "seed": 0, "rows": rows}, indent=2)
    )
    lines = [
        "# Task recipes: detection, segmentation, regression end to end",
        "",
        f"Command: `{command}` (2 CPU cores, seed 0, one run each; wall time includes start-up).",
        "",
        "| recipe | task | metric | value | baseline | other metrics | seconds |",
        "|---|---|---|---:|---:|---|---:|",
    ]
    for r in rows:
        head = r["headline"]["name"]
        other = ", ".join(
            f"{k} {v:.3f}" for k, v in r["metrics"].items() if k != head and v is not None
        )
        lines.append(
            f"| `{r['recipe']}` | {r['task']} | {head} | {r['headline']['value']:.3f} | "
            f"{r['baseline'].get(head, float('nan')):.3f} ({r['baseline']['what']}) | {other} | "
            f"{r['seconds']:.0f} |"
        )
    (RESULTS / "task_recipes.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
