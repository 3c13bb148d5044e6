"""Throughput of the synthetic eye renderer (issue: >= 3,000 images/s at 48x48 on 2 cores).

Renders batches of ``--batch`` random eyes (every effect on, JPEG on about half of them) in each
grey mode, ``--rounds`` timed rounds after one warm-up, and reports the median images/s. Also
writes the contact sheet ``eye_render_sheet.png`` (6 identities per mode, openness 0 -> 1).

Command:
    .venv/bin/python benchmarks/eye_render.py [--size 48] [--batch 512] [--rounds 5]

Writes ``benchmarks/results/eye_render.{json,md}`` and ``eye_render_sheet.png``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

import torch
from harness import RESULTS

from slimkit.eye import contact_sheet, render_eyes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=48)
    parser.add_argument("--batch", type=int, default=512)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rows = []
    for mode in ("ir", "visible"):
        render_eyes(args.batch, size=args.size, mode=mode, seed=999)  # warm-up
        rates = []
        for r in range(args.rounds):
            start = time.perf_counter()
            render_eyes(args.batch, size=args.size, mode=mode, seed=r)
            rates.append(args.batch / (time.perf_counter() - start))
        rows.append(
            {
                "mode": mode,
                "images_per_s": round(statistics.median(rates)),
                "rounds": [round(x) for x in rates],
            }
        )
        print(rows[-1], flush=True)
    sheet = contact_sheet(RESULTS / "eye_render_sheet.png", size=args.size)
    result = {
        "command": "python " + " ".join(sys.argv),
        "setup": {**vars(args), "torch": torch.__version__},
        "rows": rows,
        "target_images_per_s": 3000,
        "sheet": sheet.name,
    }
    (RESULTS / "eye_render.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = [
        "# Synthetic eye renderer throughput",
        "",
        f"{args.size}x{args.size} grey crops, batches of {args.batch}, every effect on (JPEG on "
        f"about half), {args.threads} CPU threads, median of {args.rounds} rounds; torch "
        f"{torch.__version__}. Target: 3,000 images/s.",
        "",
        "| mode | images/s (median) | rounds | meets 3,000/s |",
        "|---|---:|---|---|",
    ]
    for row in rows:
        ok = "yes" if row["images_per_s"] >= 3000 else "no"
        lines.append(
            f"| {row['mode']} | {row['images_per_s']:,} | "
            f"{', '.join(map(str, row['rounds']))} | {ok} |"
        )
    lines += ["", f"Contact sheet: `{sheet.name}`.", "", f"Command: `{result['command']}`", ""]
    (RESULTS / "eye_render.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
