"""Does a MAC reduction become an ONNX Runtime speed-up? Channel widths as found vs rounded.

ONNX Runtime's CPU convolutions (MLAS, NCHWc layout) compute in blocks of 8 (AVX2) or 16
(AVX-512) channels, so a pruned layer's width is in effect rounded up to the block. This script
builds ResNet-20 (option B) with the same kept channels per coupled group in three forms, as a
proximal-slimming run found them (``proximal tℓ1``, λ 0.005, 20 epochs, 5k CIFAR-10 images; the
widths are fixed below), and rounded *up* to multiples of 8 and of 16 (what ``round_to`` in
:func:`slimkit.surgery.select_channels` does), plus uniformly thinned networks, and measures each
with ONNX Runtime at batch 1 and 32 (interleaved passes, median). No training: latency depends
only on the architecture.

Command:
    .venv/bin/python benchmarks/channel_rounding_latency.py [--rounds 5] [--threads 2]

Writes ``benchmarks/results/channel_rounding_latency.{json,md}``.
"""

from __future__ import annotations

import argparse
from typing import Any

import torch
from harness import Results, cpu_simd, interleaved_latency, speedups
from torch import nn

from slimkit.measure import count_macs, count_params
from slimkit.models import build_model
from slimkit.surgery import channel_groups, prune_channels
from slimkit.surgery.guard import keep_count

INPUT = (3, 32, 32)
# Kept channels per coupled group of ResNet-20 (stem/stage-1 stream, the three stage-1 block
# interiors, stage-2 interior, stage-2 stream, two interiors, stage-3 likewise), as found by
# proximal tℓ1 at λ 0.005 (20 epochs, 5k CIFAR-10 images) with round_to 1.
AS_FOUND = [15, 9, 5, 5, 16, 21, 14, 10, 27, 41, 28, 27]


def rounded(widths: list[int], sizes: list[int], multiple: int) -> list[int]:
    """Each width rounded up to a multiple of ``multiple``, at most the group's size (the rule
    ``round_to`` applies)."""
    return [keep_count(s, w, 0.0, multiple) for w, s in zip(widths, sizes, strict=True)]


def resnet20_with(widths: list[int]) -> nn.Module:
    """ResNet-20 with group ``i`` physically cut to ``widths[i]`` channels."""
    model = build_model("resnet20", num_classes=10).eval()
    example = torch.zeros(1, *INPUT)
    groups = channel_groups(model, example)
    removal = {g.root: list(range(w, g.size)) for g, w in zip(groups, widths, strict=True)}
    return prune_channels(model, {k: v for k, v in removal.items() if v}, example)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    sizes = [g.size for g in channel_groups(build_model("resnet20"), torch.zeros(1, *INPUT))]
    variants = {
        "dense": sizes,
        "as found (proximal tℓ1)": AS_FOUND,
        "as found, rounded up to 8": rounded(AS_FOUND, sizes, 8),
        "as found, rounded up to 16": rounded(AS_FOUND, sizes, 16),
        "every group halved (8/16/32)": [s // 2 for s in sizes],
        "stages 2-3 halved (16/16/32)": [
            min(16, s) if s == 32 else s // 2 if s == 64 else s for s in sizes
        ],
    }
    models = {name: resnet20_with(w) for name, w in variants.items()}
    results = Results(
        "channel_rounding_latency",
        {**vars(args), "model": "resnet20 (option B)", "cpu_flags": cpu_simd()},
        render,
    )
    latency = interleaved_latency(models, INPUT, args.threads, args.rounds, args.repeats)
    for name, model in models.items():
        results.rows.append(
            {
                "variant": name,
                "widths": variants[name],
                "params": count_params(model),
                "macs": count_macs(model, INPUT),
                "latency_ms": latency[name],
            }
        )
    speedups(results.rows, results.rows[0])
    for row in results.rows:
        row["speedup_per_macs_reduction_bs32"] = round(
            row["ort_speedup_bs32"] / row["macs_reduction"], 3
        )
    results.save()
    print(render(results.data))


def render(data: dict[str, Any]) -> str:
    s = data["setup"]
    lines = [
        "# Channel rounding and ONNX Runtime latency (ResNet-20, no training)",
        "",
        f"CPU SIMD: {', '.join(s['cpu_flags']) or 'unknown'}; {s['threads']} threads; ORT latency "
        f"is the median over {s['rounds']} interleaved passes of {s['repeats']} timed runs each. "
        "Widths are the kept channels per coupled group (see the script).",
        "",
        "| variant | widths | params | MACs | MACs reduction | ORT bs1 ms | ORT bs32 ms | "
        "speed-up bs32 | speed-up / MACs reduction |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in data["rows"]:
        lines.append(
            f"| {r['variant']} | {' '.join(map(str, r['widths']))} | {r['params']:,} | "
            f"{r['macs'] / 1e6:.2f} M | {r['macs_reduction']:.2f}x | "
            f"{r['latency_ms']['ort_bs1']:.3f} | {r['latency_ms']['ort_bs32']:.2f} | "
            f"{r['ort_speedup_bs32']:.2f}x | {r['speedup_per_macs_reduction_bs32']:.2f} |"
        )
    lines += ["", f"Command: `{data['command']}`", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
