"""Fourier / image-domain backbones vs convolutional baselines at matched parameters (CIFAR-10).

One fixed budget for every model: the same class-balanced CIFAR-10 training subset, epochs, batch,
optimizer (AdamW, lr 2e-3, weight decay 0.05, cosine; the digest's suggested quick recipe,
``afidaf_affnet.md`` §10.4; not tuned for any model), augmentation and seeds. Rows:

- ``afidaf_xs_cifar`` (image filter then Fourier mask), ``idaf_xs_cifar`` (image filter only),
  ``affnet_xs_cifar`` (Fourier mask only, widened to the same parameter count);
- ``resnet20`` (the zoo's CIFAR ResNet) and torchvision's MobileNetV2 at width 0.25 with its stem
  and first stride-2 block at stride 1 (total stride 8, a 4x4 final map at 32x32 like the others);
- ``hafidaf_mini`` vs ``swin_mini`` (timm SwinTransformer of the same shape).

Per model: top-1 on the test subset (mean ± std over the seeds), params, MACs (FFTs included,
``slimkit.measure.macs.FFT_RULE``), torch and ONNX Runtime latency at batch 1 and 32 (2 threads),
and for models with FFTs the ORT latency of both export paths (ONNX ``DFT`` and DFT-matrix
products). Training runs first for every model; latency is measured at the end, in one phase.

Command:
    nice -n 5 .venv/bin/python benchmarks/fourier_backbones.py \
        --per-class 250 --epochs 5 --seeds 0 1 2 > benchmarks/results/fourier_backbones.log 2>&1

Writes ``benchmarks/results/fourier_backbones.{json,md}``. CIFAR-100 and the COCO128 detection
and segmentation rows need data that ``../shared/data`` does not hold yet; they are reported as
not run.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path
from typing import Any

import torch
from harness import Bench, Results
from torch import nn

from slimkit.engine import OptimizerConfig
from slimkit.measure import count_macs, count_params, export_onnx, fft_macs, measure_latency
from slimkit.measure.interleaved import interleaved_ort_latency
from slimkit.models import build_model
from slimkit.models.fourier import spectral_modules

MODELS = ["afidaf_xs_cifar", "idaf_xs_cifar", "affnet_xs_cifar", "resnet20", "mobilenet_v2_0.25",
          "hafidaf_mini", "swin_mini"]  # fmt: skip


def make(name: str, num_classes: int = 10) -> nn.Module:
    if name == "mobilenet_v2_0.25":
        model = build_model("tv:mobilenet_v2", num_classes=num_classes, width_mult=0.25)
        model.features[0][0].stride = (1, 1)  # stem
        model.features[2].conv[1][0].stride = (1, 1)  # first stride-2 inverted residual
        return model
    return build_model(name, num_classes=num_classes)


def fft_path_latency(model: nn.Module, input_size: tuple[int, int, int]) -> dict[str, Any]:
    """ORT latency (batch 1 and 32) of the two FFT export paths, interleaved."""
    with tempfile.TemporaryDirectory() as tmp:
        files, parity = {}, {}
        for path in ("dft", "matmul"):
            files[path] = Path(tmp) / f"{path}.onnx"
            parity[path] = export_onnx(model, files[path], input_size, fft=path).max_abs_diff
        lat = interleaved_ort_latency(files, input_size, batch_sizes=(1, 32), threads=2)
    return {p: {"max_abs_diff": parity[p], **lat[p]} for p in files}


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    top1 = [r["top1"] for r in rows]
    return {
        "top1_mean": round(statistics.mean(top1), 4),
        "top1_std": round(statistics.stdev(top1), 4) if len(top1) > 1 else 0.0,
        "seeds": [r["seed"] for r in rows],
        "train_seconds_mean": round(statistics.mean(r["train_seconds"] for r in rows), 1),
    }


def render(data: dict[str, Any]) -> str:
    s = data["setup"]
    lines = [
        "# Fourier backbones vs convolutional baselines "
        f"({data['setup'].get('dataset', 'cifar10').upper().replace('CIFAR', 'CIFAR-')}, "
        "matched params)",
        "",
        f"Command: `{data['command']}`; torch {s['torch']}; 2 cores; seeds {s['seeds']}.",
        f"Budget (same for every model): {s['per_class']} training images per class, "
        f"{s['epochs']} epochs, batch {s['batch_size']}, AdamW lr {s['lr']} wd "
        f"{s['weight_decay']}, cosine; test subset {s['test_per_class']} images per class. "
        "No model was tuned (the digest's suggested recipe for all).",
        f"MACs include FFTs: {s['fft_rule']}.",
        "",
        "| model | top-1 (mean ± std) | params | MACs | FFT MACs | torch bs1 ms | torch bs32 ms "
        "| ORT bs1 ms | ORT bs32 ms | train s/run |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, m in data.get("models", {}).items():
        lat = m.get("latency_ms", {})

        def ms(key: str, lat: dict = lat) -> str:
            return f"{lat[key]:.2f}" if key in lat else "-"

        lines.append(
            f"| {name} | {m['top1_mean']:.4f} ± {m['top1_std']:.4f} | {m['params']:,} | "
            f"{m['macs'] / 1e6:.1f} M | {m['fft_macs'] / 1e6:.2f} M | {ms('torch_bs1')} | "
            f"{ms('torch_bs32')} | {ms('ort_bs1')} | {ms('ort_bs32')} | {m['train_seconds_mean']} |"
        )
    paths = {n: m["fft_paths"] for n, m in data.get("models", {}).items() if m.get("fft_paths")}
    if paths:
        lines += ["", "## ONNX export paths of the FFT (ORT, 2 threads, interleaved)", "",
                  "| model | path | parity (max abs diff) | ORT bs1 ms | ORT bs32 ms |",
                  "|---|---|---:|---:|---:|"]  # fmt: skip
        for name, by_path in paths.items():
            for path, v in by_path.items():
                lines.append(f"| {name} | {path} | {v['max_abs_diff']:.2e} | {v['ort_bs1']:.2f} "
                             f"| {v['ort_bs32']:.2f} |")  # fmt: skip
    lines += [
        "",
        "## Per-seed top-1",
        "",
        "| model | seed | top-1 | train s |",
        "|---|---|---:|---:|",
    ]
    for r in data["rows"]:
        lines.append(f"| {r['model']} | {r['seed']} | {r['top1']:.4f} | {r['train_seconds']} |")
    lines += ["", "## Not run here", "", *[f"- {x}" for x in data["setup"]["not_run"]], ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--per-class", type=int, default=250)
    parser.add_argument("--test-per-class", type=int, default=200)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--models", nargs="+", default=MODELS)
    parser.add_argument(
        "--dataset", choices=["cifar10", "cifar100"], default="cifar10",
        help="cifar100 writes fourier_backbones_cifar100.{json,md} (needs CIFAR-100 materialized)",
    )  # fmt: skip
    args = parser.parse_args()
    torch.set_num_threads(2)
    from slimkit.measure.macs import FFT_RULE

    lr, wd, batch = 2e-3, 0.05, 64
    bench = Bench(args.dataset, per_class=args.per_class, batch_size=batch,
                  test_per_class=args.test_per_class)  # fmt: skip
    setup = {
        "per_class": args.per_class, "test_per_class": args.test_per_class,
        "epochs": args.epochs, "seeds": args.seeds, "batch_size": batch, "lr": lr,
        "weight_decay": wd, "fft_rule": FFT_RULE,
        "not_run": [
            "CIFAR-100: not in ../shared/data yet (its README: 'will be added later').",
            "COCO128 detection mAP and segmentation mIoU with AFIDAF vs AFF backbones: COCO128 "
            "is not in ../shared/data yet.",
        ],
    }  # fmt: skip
    result_name = "fourier_backbones" + ("" if args.dataset == "cifar10" else f"_{args.dataset}")
    results = Results(result_name, {**setup, "dataset": args.dataset}, render)
    trained: dict[str, nn.Module] = {}
    for name in args.models:
        for seed in args.seeds:
            torch.manual_seed(seed)
            model = make(name, bench.data.num_classes)
            opt = OptimizerConfig(name="adamw", lr=lr, weight_decay=wd)
            seconds = bench.train(model, args.epochs, [], lr, seed, optimizer=opt)
            top1 = bench.top1(model)
            print(f"{name} seed {seed}: top-1 {top1:.4f} in {seconds:.0f} s", flush=True)
            results.add({"model": name, "seed": seed, "top1": round(top1, 4),
                         "train_seconds": round(seconds, 1)})  # fmt: skip
            trained[name] = model.eval()
    models: dict[str, Any] = {}
    for name, model in trained.items():
        rows = [r for r in results.rows if r["model"] == name]
        entry = summarize(rows)
        entry.update(params=count_params(model), macs=count_macs(model, bench.input_size),
                     fft_macs=fft_macs(model, bench.input_size))  # fmt: skip
        entry["latency_ms"] = measure_latency(model.cpu(), bench.input_size, batch_sizes=(1, 32),
                                              threads=2, repeats=30)  # fmt: skip
        if spectral_modules(model):
            entry["fft_paths"] = fft_path_latency(model, bench.input_size)
        models[name] = entry
        print(name, entry, flush=True)
        results.save(models=models)


if __name__ == "__main__":
    main()
