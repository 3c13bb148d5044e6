"""Training throughput: slimkit's loop vs a plain hand-written PyTorch loop, in one run.

Same model (CIFAR ResNet-20), same data (CIFAR-10 images from the materialized npz files, or the
digits set when CIFAR-10 is absent), same batch size (128), optimizer (SGD momentum 0.9, wd 5e-4)
and thread count. The plain loops are the cheapest honest baseline: inputs pre-normalized to float
in memory, no augmentation, once in NCHW and once in channels_last. slimkit's loop runs its real
path: ``BatchLoader`` (uint8 -> random crop + flip + normalize every batch) and ``Trainer``
(learning-rate schedule, loss bookkeeping, metrics, progress). Rounds are interleaved and the
median images/s of each configuration is reported; ``ratio_vs_best_plain`` is slimkit divided by
the faster plain loop of the same round (median over rounds, which alternate their order).

Command:
    .venv/bin/python benchmarks/train_throughput.py [--steps 30] [--rounds 3] [--threads 2]

Writes ``benchmarks/results/train_throughput.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from slimkit.data import Augment, BatchLoader, load_dataset
from slimkit.engine import OptimizerConfig, ScheduleConfig, Trainer
from slimkit.models import build_model

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"


def load_data(images: int):
    """CIFAR-10 (materialized) when available, else digits; first ``images`` training images."""
    root = os.environ.get("SLIMKIT_DATA", str(REPO / ".cache" / "data"))
    if (Path(root) / "cifar10" / "train.npz").is_file():
        splits = load_dataset("cifar10", root=root, subset_per_class=images // 10)
    else:
        splits = load_dataset("digits")
    return splits


def plain_loop(x_float, y, batch: int, steps: int, channels_last: bool) -> float:
    """Hand-written loop; returns images/s over ``steps`` steps (after 3 warm-up steps)."""
    torch.manual_seed(0)
    model = build_model("resnet20")
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
        x_float = x_float.contiguous(memory_format=torch.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
    model.train()
    perm = torch.randperm(len(y))

    def step(i: int) -> None:
        idx = perm[(i * batch) % (len(y) - batch) :][:batch]
        xb, yb = x_float[idx], y[idx]
        loss = F.cross_entropy(model(xb), yb)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    for i in range(3):
        step(i)
    start = time.perf_counter()
    for i in range(steps):
        step(i)
    return steps * batch / (time.perf_counter() - start)


def slimkit_loop(splits, batch: int, steps: int) -> float:
    """slimkit's Trainer + BatchLoader for ``steps`` steps; images/s (after a warm-up fit)."""
    torch.manual_seed(0)
    model = build_model("resnet20").to(memory_format=torch.channels_last)
    train = splits.train.subset(torch.arange(steps * batch))
    warm = splits.train.subset(torch.arange(3 * batch))

    def trainer(dataset) -> Trainer:
        loader = BatchLoader(
            dataset,
            batch,
            shuffle=True,
            augment=Augment(),
            mean=splits.mean,
            std=splits.std,
            drop_last=True,
        )
        return Trainer(
            model,
            loader,
            None,
            epochs=1,
            optimizer=OptimizerConfig(lr=0.05, momentum=0.9, weight_decay=5e-4),
            schedule=ScheduleConfig(name="cosine"),
            log_every=10,
        )

    trainer(warm).fit()
    run = trainer(train)
    start = time.perf_counter()
    run.fit()
    return steps * batch / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=128)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    batch = args.batch_size
    splits = load_data(max(args.steps, 10) * batch + 10 * batch)
    x = splits.train.x.float().div_(255)
    mean = torch.tensor(splits.mean).view(1, -1, 1, 1)
    std = torch.tensor(splits.std).view(1, -1, 1, 1)
    x_float = ((x - mean) / std).contiguous()
    y = splits.train.y

    runs: dict[str, list[float]] = {"plain_nchw": [], "plain_channels_last": [], "slimkit": []}
    ratios: list[float] = []
    for r in range(args.rounds):
        # alternate the order each round so slow drifts of machine load do not favour one loop
        order = ["plain_nchw", "plain_channels_last", "slimkit"]
        for key in order if r % 2 == 0 else order[::-1]:
            if key == "slimkit":
                runs[key].append(slimkit_loop(splits, batch, args.steps))
            else:
                runs[key].append(plain_loop(x_float, y, batch, args.steps, key != "plain_nchw"))
        ratios.append(
            runs["slimkit"][-1] / max(runs["plain_nchw"][-1], runs["plain_channels_last"][-1])
        )
        shown = ", ".join(f"{k} {v[-1]:.0f}" for k, v in runs.items())
        print(f"round {r + 1}/{args.rounds}: images/s {shown}", flush=True)
    medians = {k: statistics.median(v) for k, v in runs.items()}
    result = {
        "command": "python " + " ".join(sys.argv),
        "model": "resnet20",
        "dataset": splits.name,
        "batch_size": batch,
        "steps": args.steps,
        "rounds": args.rounds,
        "threads": args.threads,
        "torch": torch.__version__,
        "images_per_s": {k: round(v, 1) for k, v in medians.items()},
        "all_rounds": {k: [round(x, 1) for x in v] for k, v in runs.items()},
        "ratio_per_round": [round(x, 4) for x in ratios],
        "ratio_vs_best_plain": round(statistics.median(ratios), 4),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "train_throughput.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = [
        "# Training throughput: slimkit vs plain PyTorch loop",
        "",
        f"ResNet-20, {splits.name}, batch {batch}, {args.threads} threads, {args.steps} timed steps,"
        f" median of {args.rounds} interleaved rounds; torch {torch.__version__}.",
        "",
        "| loop | images/s (median) | all rounds |",
        "|---|---:|---|",
    ]
    for key, value in medians.items():
        lines.append(f"| {key} | {value:.0f} | {', '.join(f'{x:.0f}' for x in runs[key])} |")
    lines += [
        "",
        f"**ratio_vs_best_plain = {result['ratio_vs_best_plain']:.3f}**: the median over rounds of"
        " slimkit / the faster plain loop of the same round (per round:"
        f" {', '.join(f'{x:.3f}' for x in ratios)}). The plain loops read pre-normalized float tensors with no augmentation; slimkit"
        " also crops, flips and normalizes every batch.",
        "",
        f"Command: `{result['command']}`",
        "",
    ]
    (RESULTS / "train_throughput.md").write_text("\n".join(lines))
    print(json.dumps(result["images_per_s"]), "ratio", result["ratio_vs_best_plain"])


if __name__ == "__main__":
    main()
