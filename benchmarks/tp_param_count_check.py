"""Why NS ℓ1 and Torch-Pruning BNScalePruner rows report different params at the same MACs.

Issue: in ``slimming_vs_torch_pruning`` the two rows (same ℓ1 regularizer on BN scales, so the
same training) report 168,570 vs 196,250 parameters at 31,081,088 MACs. This script trains both
exactly as that benchmark does (short budget), prunes both to that MACs target with ``round_to``
16, and lists the layers whose widths differ and each model's params and MACs.

Finding: both counts are right; the two pruned models differ. In ResNet-20 one 16-channel block
of a stage-2 block interior costs the same MACs as two 16-channel blocks of stage-3 interiors
(2.36 M each way), so two different removals land on the same MACs with different parameters.

Command:
    .venv/bin/python benchmarks/tp_param_count_check.py

Writes ``benchmarks/results/tp_param_count_check.{json,md}``.
"""

from __future__ import annotations

import argparse
from typing import Any

import slimming_vs_torch_pruning as bench_module
import torch
import torch_pruning as tp
from harness import Results, TorchPruningRegularizer, tp_prune

from slimkit.measure import count_macs, count_params
from slimkit.sparsity import BNScaleSparsity, BNSparsityConfig
from slimkit.surgery import channel_groups, mask_channels, prune_channels, select_channels

TARGET = 31_081_088  # the MACs of both rows in the committed table


def widths(model: torch.nn.Module) -> dict[str, list[int]]:
    return {
        n: [m.in_channels, m.out_channels]
        for n, m in model.named_modules()
        if isinstance(m, torch.nn.Conv2d)
    }


def render(data: dict[str, Any]) -> str:
    rows = data["rows"]
    lines = [
        "# NS ℓ1 vs Torch-Pruning BNScalePruner: parameters at the same MACs",
        "",
        f"Command: `{data['command']}`; torch {data['setup']['torch']}.",
        "",
        "| pruning | params | MACs |",
        "|---|---:|---:|",
        *[f"| {r['method']} | {r['params']:,} | {r['macs']:,} |" for r in rows],
        "",
        "Layers whose (in, out) channels differ (slimkit NS ℓ1 `macs` rule vs Torch-Pruning):",
        "",
        *[f"- `{k}`: {v[0]} vs {v[1]}" for k, v in data.get("differences", {}).items()],
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-class", type=int, default=50)
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(2)
    setup = argparse.Namespace(per_class=args.per_class, batch_size=64, threads=2, gamma_init=0.05)
    bench = bench_module.SlimmingBench(setup)
    results = Results("tp_param_count_check", vars(args), render)
    size = bench_module.INPUT
    x = torch.zeros(1, *size)
    dense = count_macs(bench.fresh_model(), size)

    ns = bench.fresh_model()
    term = BNScaleSparsity(BNSparsityConfig(method="subgradient", penalty="l1", lam=1e-3), ns)
    bench.train(ns, args.epochs, [term], 0.1, 0)
    ns = ns.cpu().to(memory_format=torch.contiguous_format)
    removal = select_channels(
        channel_groups(ns, x), "macs", macs_target=TARGET / dense, round_to=16,
        model=ns, example_input=x,
    )  # fmt: skip
    mask_channels(ns, removal)
    prune_channels(ns, removal, x)

    tpm = bench.fresh_model().to(memory_format=torch.contiguous_format)
    importance = tp.importance.BNScaleImportance()
    pruner = bench_module.tp_pruner(tpm, importance, tp.pruner.BNScalePruner, 1e-3, 16)
    tpm = tpm.to(memory_format=torch.channels_last)
    bench.train(tpm, args.epochs, [TorchPruningRegularizer(pruner)], 0.1, 0)
    tpm = tpm.cpu().to(memory_format=torch.contiguous_format)
    tp_prune(tpm, pruner, TARGET, size)

    for name, model in (("slimkit NS ℓ1, macs rule", ns), ("Torch-Pruning BNScalePruner", tpm)):
        results.add(
            {"method": name, "params": count_params(model), "macs": count_macs(model, size)}
        )
    a, b = widths(ns), widths(tpm)
    results.save(differences={k: [a[k], b[k]] for k in a if a[k] != b[k]})


if __name__ == "__main__":
    main()
