"""Cost of one search iteration per method, interleaved: DARTS-1st, DARTS-2nd, RARTS (reuse,
exact), on the 5-cell, 8-channel supernet of the CPU search recipes, batch 32, channels_last.

Each round runs one timed iteration of every method (fresh supernets, the same train and val
batches, two warm-up iterations first), so slow drift of the machine hits every method alike;
the table gives the median over rounds and the ratio to DARTS-2nd. This complements the
per-epoch seconds of ``benchmarks/darts_rarts.py`` (measured inside the recipes, with data
loading and augmentation).

Usage::

    nice .venv/bin/python benchmarks/nas_step_cost.py [--rounds 5] > benchmarks/results/nas_step_cost.log 2>&1
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from slimkit.nas.search import ArchitectureSearch, SearchSettings
from slimkit.nas.supernet import DartsSupernet

RESULTS = Path(__file__).resolve().parents[1] / "benchmarks" / "results"
METHODS = {
    "darts_1st": SearchSettings(method="darts_1st"),
    "darts_2nd": SearchSettings(method="darts_2nd"),
    "rarts (reuse)": SearchSettings(method="rarts", variant="reuse"),
    "rarts (exact)": SearchSettings(method="rarts", variant="exact"),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)
    g = torch.Generator().manual_seed(0)
    cl = torch.channels_last
    train = (
        torch.randn(32, 3, 32, 32, generator=g).to(memory_format=cl),
        torch.randint(0, 10, (32,), generator=g),
    )
    val = (
        torch.randn(32, 3, 32, 32, generator=g).to(memory_format=cl),
        torch.randint(0, 10, (32,), generator=g),
    )
    searches = {}
    for name, settings in METHODS.items():
        torch.manual_seed(0)
        net = DartsSupernet(num_classes=10, cells=5, channels=8).to(memory_format=cl)
        searches[name] = ArchitectureSearch(
            net, settings, lambda o, b: F.cross_entropy(o, b[1]), epochs=1
        )
        for _ in range(2):
            searches[name].step(train, val)
    times: dict[str, list[float]] = {name: [] for name in METHODS}
    for r in range(args.rounds):
        for name, search in searches.items():
            start = time.perf_counter()
            search.step(train, val)
            times[name].append(time.perf_counter() - start)
        print(
            f"round {r + 1}: " + ", ".join(f"{n} {t[-1]:.2f} s" for n, t in times.items()),
            flush=True,
        )
    med = {n: statistics.median(t) for n, t in times.items()}
    rows = [
        {"method": n, "passes_per_iter": searches[n].passes / searches[n].iterations,
         "median_s": med[n], "times_s": times[n], "vs_darts_2nd": med[n] / med["darts_2nd"]}
        for n in METHODS
    ]  # fmt: skip
    command = "nice .venv/bin/python benchmarks/nas_step_cost.py " + " ".join(sys.argv[1:])
    data = {"command": command.strip(), "torch": torch.__version__, "threads": args.threads,
            "rounds": args.rounds, "rows": rows}  # fmt: skip
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "nas_step_cost.json").write_text(json.dumps(data, indent=1))
    lines = [
        "# Search iteration cost: DARTS-1st, DARTS-2nd, RARTS",
        "",
        f"Command: `{data['command']}`; torch {torch.__version__}, {args.threads} threads, "
        f"{args.rounds} interleaved rounds, median. 5-cell, 8-channel supernet, batch 32 "
        "(train and val), channels_last, random inputs.",
        "",
        "| method | passes / iteration | median s / iteration | / DARTS-2nd |",
        "|---|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['method']} | {r['passes_per_iter']:.0f} | {r['median_s']:.2f} | {r['vs_darts_2nd']:.3f} |"
        )
    (RESULTS / "nas_step_cost.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
