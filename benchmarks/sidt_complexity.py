"""SiDT complexity analysis: params and MACs per part of a timm ViT/Swin, dense and pruned.

For each model, the dims of each kind are removed uniformly per group (20 % and 40 % of each
group's dims, the `per_layer` allocation with equal importance) and params / MACs are counted per
part: ``embed`` (patch embedding, tokens, position embedding, patch merging), ``attention``
(qkv, proj and the attention matrix products, counted by ``FlopCounterMode`` per module),
``mlp`` (fc1, fc2) and ``head`` (final norm and classifier). Also the measured fraction removed
in total. Nothing is trained; this is the arithmetic that the digest's §2.4 formula predicts,
counted on the real modules.

Command::

    python benchmarks/sidt_complexity.py
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from harness import Results
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from slimkit.models import build_model
from slimkit.surgery.transformer import prune_dims, searchable_dims

MODELS = {
    "vit_cifar": {"depth": 6},
    "swin_cifar": {},
    "vit_tiny_digits": {},
}


def part_of(name: str) -> str:
    if ".attn" in name:
        return "attention"
    if ".mlp" in name:
        return "mlp"
    if name.startswith(("head", "norm", "fc_norm")):
        return "head"
    return "embed"


def params_by_part(model: nn.Module) -> dict[str, int]:
    out: dict[str, int] = {}
    for name, p in model.named_parameters():
        out[part_of(name)] = out.get(part_of(name), 0) + p.numel()
    return out


def macs_by_part(model: nn.Module, input_size: tuple[int, int, int]) -> dict[str, int]:
    prefix = type(model).__name__ + "."
    with FlopCounterMode(display=False) as mode, torch.no_grad():
        model.eval()(torch.zeros(1, *input_size))
    out: dict[str, int] = {}
    leaves = {}
    for name, ops in mode.get_flop_counts().items():
        if not name.startswith(prefix):
            continue
        leaves[name[len(prefix) :]] = sum(ops.values()) // 2
    # a module's count includes its children: keep the deepest attn/mlp level once per block
    for name, macs in leaves.items():
        parts = name.split(".")
        if parts[-1] in ("attn", "mlp") or (
            parts[-1] in ("patch_embed", "head", "downsample") and parts.count("blocks") == 0
        ):
            out[part_of(name)] = out.get(part_of(name), 0) + macs
    return out


def uniform_removal(model: nn.Module, fraction: float) -> dict[str, Any]:
    removal: dict[str, Any] = {}
    for kind, groups in searchable_dims(model).items():
        for name, size in groups.items():
            n = min(size - 1, int(fraction * size))
            if kind == "embed":
                removal["embed"] = list(range(n))
            elif n:
                removal.setdefault(kind, {})[name] = list(range(n))
    return removal


def main() -> None:
    results = Results("sidt_complexity", {"models": MODELS}, render)
    for name, kwargs in MODELS.items():
        dense = build_model(name, num_classes=100, **kwargs)
        size = (3, 32, 32)
        total_p = sum(p.numel() for p in dense.parameters())
        total_m = sum(macs_by_part(dense, size).values())
        for fraction in (0.0, 0.2, 0.4):
            model = prune_dims(copy.deepcopy(dense), uniform_removal(dense, fraction))
            params, macs = params_by_part(model), macs_by_part(model, size)
            results.add({
                "model": name,
                "dims_removed_per_group": fraction,
                "dims": {k: sum(v.values()) for k, v in searchable_dims(model).items()},
                "params": params,
                "macs": macs,
                "params_fraction": round(sum(params.values()) / total_p, 4),
                "macs_fraction": round(sum(macs.values()) / total_m, 4),
            })  # fmt: skip


def render(data: dict[str, Any]) -> str:
    lines = [
        "# SiDT complexity: params and MACs per part, dense and with dims removed per group",
        "",
        f"Command: `{data['command']}` (no training; 100 classes, 32x32 input, batch 1)",
        "",
        "| model | dims removed per group | embed / heads / MLP dims | params: embed / attention "
        "/ MLP / head | MACs: embed / attention / MLP / head | params kept | MACs kept |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in data["rows"]:
        d, p, m = r["dims"], r["params"], r["macs"]
        parts = ("embed", "attention", "mlp", "head")
        lines.append(
            f"| {r['model']} | {r['dims_removed_per_group']:.0%} | {d.get('embed', '-')} / "
            f"{d['heads']} / {d['mlp']} | {' / '.join(f'{p.get(k, 0):,}' for k in parts)} | "
            f"{' / '.join(f'{m.get(k, 0):,}' for k in parts)} | {r['params_fraction']:.3f} | "
            f"{r['macs_fraction']:.3f} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
