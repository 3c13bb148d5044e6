"""CLI start-up time: ``slimkit validate`` and ``slimkit --help`` against ``import torch``.

Validating a recipe must not import torch (configs are torch-free, the registries resolve
implementations only on use), so both commands should cost a small fraction of the baseline
``python -c "import torch"`` measured in the same run. Each command runs ``--repeats`` times in a
fresh interpreter after one untimed warm-up (file cache); the rounds are interleaved so a busy
machine slows every command alike. Reported: median, min and max wall-clock seconds.

Command:
    .venv/bin/python benchmarks/cli_startup.py [--repeats 5]

Writes ``benchmarks/results/cli_startup.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
TARGET_S = 1.5


def _slimkit() -> list[str]:
    """The installed console script next to this interpreter, else ``python -m slimkit``."""
    script = Path(sys.executable).with_name("slimkit")
    if script.is_file():
        return [str(script)]
    found = shutil.which("slimkit")
    return [found] if found else [sys.executable, "-m", "slimkit"]


def commands() -> dict[str, list[str]]:
    """The timed commands, by label."""
    cli = _slimkit()
    return {
        "validate": [*cli, "validate", "recipes/quickstart.yaml"],
        "help": [*cli, "--help"],
        "import_torch": [sys.executable, "-c", "import torch"],
    }


def _run(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, cwd=REPO, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return time.perf_counter() - start


def _load() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def main(argv: list[str] | None = None) -> int:
    """Time the commands and write the JSON and markdown results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    cmds = commands()
    for cmd in cmds.values():  # warm-up: file cache, .pyc files
        _run(cmd)
    load_before = _load()
    times: dict[str, list[float]] = {label: [] for label in cmds}
    for _ in range(args.repeats):
        for label, cmd in cmds.items():
            times[label].append(_run(cmd))
    load_after = _load()
    rows = {
        label: {
            "command": shlex.join([Path(cmds[label][0]).name, *cmds[label][1:]]),
            "median_s": statistics.median(ts),
            "min_s": min(ts),
            "max_s": max(ts),
            "runs_s": ts,
        }
        for label, ts in times.items()
    }
    baseline = rows["import_torch"]["median_s"]
    for row in rows.values():
        row["vs_import_torch"] = row["median_s"] / baseline
    result = {
        "command": f".venv/bin/python benchmarks/cli_startup.py --repeats {args.repeats}",
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "load_avg_1min": {"before": load_before, "after": load_after},
        "target_s": TARGET_S,
        "results": rows,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "cli_startup.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = [
        "# CLI start-up time",
        "",
        f"Command: `{result['command']}` (median of {args.repeats} fresh interpreters after one "
        f"warm-up, interleaved; Python {result['python']}, {result['cpus']} CPUs, 1-min load "
        f"average {load_before} before, {load_after} after).",
        "",
        "| command | median s | min s | max s | vs `import torch` |",
        "|---|---:|---:|---:|---:|",
    ]
    for row in rows.values():
        lines.append(
            f"| `{row['command']}` | {row['median_s']:.3f} | {row['min_s']:.3f} | "
            f"{row['max_s']:.3f} | {row['vs_import_torch']:.2f}x |"
        )
    ok = all(rows[k]["median_s"] < TARGET_S for k in ("validate", "help"))
    lines += [
        "",
        f"Target: `validate` and `--help` under {TARGET_S} s: {'met' if ok else 'NOT met'}. "
        "Neither imports torch (asserted by `tests/test_import_graph.py`).",
        "",
    ]
    (RESULTS / "cli_startup.md").write_text("\n".join(lines))
    print("\n".join(lines))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
