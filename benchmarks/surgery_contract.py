"""The surgery contract over every torchvision classification model and a dozen timm CNN families.

For each model (:func:`slimkit.surgery.contract.check_surgery`): random BN statistics, 30 % of
the BN channels zeroed at random, the ``zeros`` and ``macs`` (0.8 of the MACs) rules, the
relative output change of the physical removal against the masked model, ONNX Runtime parity
of the pruned model, and an artifact save/reload. Outcome per model: ``exact``, ``refused``
(a one-line error), ``no groups`` or ``FAILED``.

Command:
    .venv/bin/python benchmarks/surgery_contract.py [--models tv:resnet18 timm:ghostnet_100]

Writes ``benchmarks/results/surgery_contract.{json,md}``.
"""

from __future__ import annotations

import argparse
import gc
import json
from typing import Any

import torch
from harness import RESULTS, Results

from slimkit.surgery.contract import (
    EXACT,
    ONNX_PARITY,
    check_surgery,
    contract_models,
)


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.1e}"
    return str(value)


def render(data: dict[str, Any]) -> str:
    rows = data["rows"]
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["outcome"]] = counts.get(row["outcome"], 0) + 1
    lines = [
        "# Surgery contract: exact removal or a one-line refusal",
        "",
        f"Command: `{data['command']}`; torch {data['setup']['torch']}; "
        f"{data.get('total_seconds', 0):.0f} s.",
        "",
        "Random BN statistics, 30 % of BN channels zeroed (gamma = beta = 0), seed 0. "
        f"Exact: relative output change <= {EXACT:.0e} for the `zeros` and `macs` (0.8) rules, "
        f"ONNX Runtime parity <= {ONNX_PARITY:.0e}, artifact reload identical.",
        "",
        "Outcomes: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())),
        "",
        "| model | outcome | input | prunable ch | zeros removed | zeros change | macs removed "
        "| macs change | ONNX parity | reload | s | reason |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['model']} | {r['outcome']} | {r['input_size'][1]} | {r['prunable_channels']} "
            f"| {r['zeros_removed']} | {_fmt(r['zeros_change'])} | {r['macs_removed']} "
            f"| {_fmt(r['macs_change'])} | {_fmt(r['onnx_parity'])} | {_fmt(r['reload_equal'])} "
            f"| {r['seconds']:.0f} | {r['reason']} |"
        )
    return "\n".join(lines) + "\n"


def _previous(name: str) -> list[dict[str, Any]]:
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text())["rows"] if path.is_file() else []


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="*", default=None)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--name", default="surgery_contract")
    parser.add_argument("--resume", action="store_true", help="keep the rows already written")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    results = Results(args.name, {"threads": args.threads, "zero_fraction": 0.3}, render)
    names = args.models or contract_models()
    kept = [r for r in _previous(args.name) if r["model"] not in (args.models or [])]
    done = {r["model"] for r in kept} if args.resume else set()
    if args.resume:  # keep the rows already written; --models given: check those again
        results.data["rows"] = kept
    for name in names:
        if name in done:
            continue
        # VGG's adaptive 7x7 pooling exports to ONNX only from a multiple of 7 (224 px).
        size = (3, 224, 224) if name.startswith("tv:vgg") else None
        row = check_surgery(name, input_size=size).as_dict()
        print(f"{name}: {row['outcome']} {row['seconds']}s {row['reason'][:150]}", flush=True)
        results.add(row)
        if args.resume:  # rows in the model list's order
            order = {n: i for i, n in enumerate(contract_models())}
            results.rows.sort(key=lambda r: order.get(r["model"], len(order)))
            results.save()
        gc.collect()


if __name__ == "__main__":
    main()
