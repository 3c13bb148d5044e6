"""Composition vs each method alone, at one latency target, on the pretrained CIFAR-10 ResNet-20.

Every row starts from the verified pretrained ResNet-20 (``../shared/weights``) and trains on the
same 5,000 CIFAR-10 images (500 per class) for the same 14 epochs in all, then exports to ONNX and
is measured on the full test set and in ONNX Runtime. The target is 0.5 x the dense ORT batch-32
latency measured at the start of each run (``target: {latency: {ort_bs32: 0.5}}``). Rows:

- ``pretrained``: the starting point, evaluated and measured (no training);
- ``dense, same epochs``: 14 epochs of plain fine-tuning, no compression;
- ``prune alone``: proximal slimming with ``lam: auto`` (6 epochs) -> prune to the target ->
  8 fine-tuning epochs;
- ``factorize alone``: TRP (9 epochs) -> factorize to the target -> 5 fine-tuning epochs;
- ``int8 alone``: 12 fine-tuning epochs -> W8A8 QAT with logit KD + feature-affinity distillation
  from the pretrained model (2 epochs, lr 1e-3) -> QDQ export; quantization is not a budget
  stage, so this row reports the latency it reaches;
- ``composition``: ``recipes/cifar10_resnet20_compose_cpu.yaml`` as shipped (prune + factorize;
  its header says why int8 is not in it).

Each single-method row is the composition recipe with the other methods' stages removed and their
epochs given to the last fine-tuning stage, so hyper-parameters are the recipe's everywhere (no
method was tuned separately). One seed (0): each row is a full recipe run on 2 cores.

Command:
    nice -n 5 .venv/bin/python benchmarks/compose.py > benchmarks/results/compose.log 2>&1

Writes ``benchmarks/results/compose.{json,md}`` and each run's report under
``benchmarks/results/compose_runs/``.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml
from harness import RESULTS, Results, run_recipe

REPO = Path(__file__).resolve().parent.parent
RECIPE = REPO / "recipes" / "cifar10_resnet20_compose_cpu.yaml"


def stage(recipe: dict[str, Any], name_or_kind: str) -> dict[str, Any]:
    """A copy of the recipe's stage with that ``name`` (train stages) or ``kind``."""
    for s in recipe["stages"]:
        if s.get("name") == name_or_kind or s["kind"] == name_or_kind:
            return copy.deepcopy(s)
    raise KeyError(name_or_kind)


QUANTIZE = {"kind": "quantize", "weight_bits": 8, "act_bits": 8, "first_last_bits": 8}
QAT_KD = {
    "kind": "train", "name": "qat_kd", "epochs": 2, "eval_every": 2,
    "optimizer": {"name": "sgd", "lr": 0.001, "momentum": 0.9, "nesterov": True,
                  "weight_decay": 1.0e-4},
    "schedule": {"name": "cosine"},
    "terms": [{"name": "distill", "teacher": {"stage": 0}, "kd": "kl", "kd_weight": 1.0,
               "temperature": 4.0, "feature_loss": "fa", "fa_weight": 1.0,
               "layers": ["layer2", "layer3"]}],
}  # fmt: skip


def with_epochs(s: dict[str, Any], epochs: int) -> dict[str, Any]:
    return {**s, "epochs": epochs, "eval_every": epochs}


def variants(base: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The benchmark's recipes, derived from the composition recipe."""
    tail = [stage(base, "export"), stage(base, "measure")]
    finetune = stage(base, "finetune")
    total = sum(s.get("epochs", 0) for s in base["stages"] if s["kind"] == "train")

    def derive(stages: list[dict[str, Any]], target: bool = True) -> dict[str, Any]:
        recipe = {**copy.deepcopy(base), "stages": stages + tail}
        if not target:
            recipe.pop("target")
        used = sum(s.get("epochs", 0) for s in stages if s["kind"] == "train")
        assert used == total or not used, (used, total)
        return recipe

    sparse, trp, qat = stage(base, "sparse"), stage(base, "trp"), copy.deepcopy(QAT_KD)
    prune_alone = stage(base, "prune")
    prune_alone.pop("share", None)  # alone, it is the last budget stage: it reaches the target
    return {
        "pretrained": derive([{"kind": "evaluate"}], target=False),
        "dense, same epochs": derive([with_epochs(finetune, total)], target=False),
        "prune alone": derive(
            [sparse, prune_alone, with_epochs(finetune, total - sparse["epochs"])]
        ),
        "factorize alone": derive(
            [
                with_epochs(trp, sparse["epochs"] + trp["epochs"]),
                stage(base, "factorize"),
                with_epochs(finetune, total - sparse["epochs"] - trp["epochs"]),
            ]
        ),
        "int8 alone": derive(
            [with_epochs(finetune, total - qat["epochs"]), dict(QUANTIZE), qat],
            target=False,
        ),
        "composition": copy.deepcopy(base),
    }


def row(method: str, report: dict[str, Any], dense_ms: float | None) -> dict[str, Any]:
    """One table row; ``dense_ms`` is the reference latency (the run's own, else pretrained's)."""
    final, target = report["final"], report.get("target") or {}
    bs32 = final["latency_ms"]["ort_bs32"]
    reference = target.get("reference") or dense_ms or bs32
    return {
        "method": method,
        "top1": round(final["metrics"]["top1"], 4),
        "params": final["params"],
        "macs": final["macs"],
        "ort_bs1_ms": round(final["latency_ms"]["ort_bs1"], 3),
        "ort_bs32_ms": round(bs32, 2),
        "dense_ort_bs32_ms": round(reference, 2),
        "latency_fraction": round(bs32 / reference, 3),
        "target_met": bs32 / reference <= 0.5 * 1.1,
        "seconds": round(report["total_seconds"], 1),
    }


def render(data: dict[str, Any]) -> str:
    lines = [
        "# Composition vs each method alone at 0.5 x dense ORT batch-32 latency "
        "(pretrained ResNet-20, CIFAR-10)",
        "",
        f"Command: `{data['command']}`; torch {data['setup']['torch']}; 2 cores; seed 0.",
        "Data: 5,000 CIFAR-10 training images (500 per class), 14 training epochs in every row; "
        "top-1 on the full 10,000-image test set. Latency: ONNX Runtime, 2 threads, median of "
        "the run's measure stage; `fraction` = final / the dense latency the run's target planner "
        "measured at its start (rows without a target: the pretrained row's). "
        "Per-run reports: `compose_runs/`. Log: `compose.log`.",
        "",
        "| method | top-1 | params | MACs | ORT bs1 ms | ORT bs32 ms | fraction of dense bs32 "
        "| target (0.5, +10 %) met | run s |",
        "|---|---:|---:|---:|---:|---:|---:|---|---:|",
    ]
    for r in data["rows"]:
        if "error" in r:
            lines.append(f"| {r['method']} | failed: {r['error']} | | | | | | no | |")
            continue
        lines.append(
            f"| {r['method']} | {r['top1']:.4f} | {r['params']:,} | {r['macs'] / 1e6:.1f} M "
            f"| {r['ort_bs1_ms']:.3f} | {r['ort_bs32_ms']:.2f} | {r['latency_fraction']:.3f} "
            f"| {'yes' if r['target_met'] else 'no'} | {r['seconds']:.0f} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    base = yaml.safe_load(RECIPE.read_text())
    results = Results("compose", {"recipe": str(RECIPE.relative_to(REPO)), "seed": 0}, render)
    dense_ms = None
    for method, recipe in variants(base).items():
        slug = method.replace(",", "").replace(" ", "_")
        try:
            report = run_recipe(recipe, keep=RESULTS / "compose_runs" / slug)
        except SystemExit as exc:  # e.g. the target is unreachable by this method alone
            error = [ln for ln in str(exc).splitlines() if ln.startswith("slimkit: error")]
            print(results.add({"method": method, "error": (error or [str(exc)])[-1]}), flush=True)
            continue
        print(results.add(row(method, report, dense_ms)), flush=True)
        dense_ms = dense_ms or report["final"]["latency_ms"]["ort_bs32"]


if __name__ == "__main__":
    main()
