"""The AFF mixer's complex MLP as einsums (the official formulation) vs grouped 1x1 convolutions.

Same parameters, same numbers (parity checked), two ways to compute the block-diagonal complex
linear maps of :class:`slimkit.models.fourier.AFFMixer`:

- ``einsum``: four real ``einsum("bkihw,kio->bkohw")`` per layer, as the official code writes it
  (``r·W0 - i·W1``, ``i·W0 + r·W1``); the formulation slimkit used before this benchmark;
- ``conv``: two grouped 1x1 convolutions per layer with the stacked weights ``[W0ᵀ; W1ᵀ]`` of
  each block (slimkit's formulation now).

Each is exported with both FFT paths (ONNX ``DFT`` ops and exact DFT-matrix products) and timed
in ONNX Runtime (interleaved passes, 2 threads) at batch 1 and 32; torch eager latency of both
formulations too. Whole CIFAR models with untrained weights (latency does not depend on them).

Command:
    nice -n 5 .venv/bin/python benchmarks/fourier_mixer_ort.py \
        > benchmarks/results/fourier_mixer_ort.log 2>&1

Writes ``benchmarks/results/fourier_mixer_ort.{json,md}``.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import torch
from harness import Results

from slimkit.measure import export_onnx, measure_latency
from slimkit.measure.interleaved import interleaved_ort_latency
from slimkit.models import build_model
from slimkit.models.fourier import AFFMixer

MODELS = ["afidaf_xs_cifar", "affnet_xs_cifar", "hafidaf_mini"]
THREADS = 2


def einsum_linear(
    re: torch.Tensor, im: torch.Tensor, w: torch.Tensor, b: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """The official per-bin formulation, on the mixer's ``(B, K·d, H, Wf)`` layout."""
    groups, d_in, d_out = w.shape[1], w.shape[2], w.shape[3]
    batch, _, h, wf = re.shape
    zr, zi = re.reshape(batch, groups, d_in, h, wf), im.reshape(batch, groups, d_in, h, wf)

    def mm(t: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        return torch.einsum("bkihw,kio->bkohw", t, weight)

    out_re = mm(zr, w[0]) - mm(zi, w[1]) + b[0][None, :, :, None, None]
    out_im = mm(zi, w[0]) + mm(zr, w[1]) + b[1][None, :, :, None, None]
    return out_re.reshape(batch, groups * d_out, h, wf), out_im.reshape(
        batch, groups * d_out, h, wf
    )


def use_einsum(model: torch.nn.Module) -> torch.nn.Module:
    for m in model.modules():
        if isinstance(m, AFFMixer):
            m._complex_linear = einsum_linear  # an instance attribute shadows the method
    return model


def measure(name: str, tmp: Path) -> list[dict[str, Any]]:
    torch.manual_seed(0)
    models = {"conv": build_model(name).eval()}
    models["einsum"] = use_einsum(build_model(name).eval())
    models["einsum"].load_state_dict(models["conv"].state_dict())
    size = (3, 32, 32)
    x = torch.randn(4, *size)
    with torch.no_grad():
        formulation_diff = (models["conv"](x) - models["einsum"](x)).abs().max().item()
    files, parity = {}, {}
    for form, model in models.items():
        for fft in ("dft", "matmul"):
            key = f"{form}/{fft}"
            result = export_onnx(model, tmp / f"{name}_{form}_{fft}.onnx", size, fft=fft)
            files[key], parity[key] = result.path, result.max_abs_diff
    ort = interleaved_ort_latency(files, size, threads=THREADS, rounds=5, repeats=10)
    rows = []
    for form, model in models.items():
        torch_ms = measure_latency(model, size, threads=THREADS, runtimes=("torch",))
        for fft in ("dft", "matmul"):
            key = f"{form}/{fft}"
            rows.append({
                "model": name, "formulation": form, "fft_path": fft,
                "parity": parity[key], "formulation_diff": formulation_diff,
                "ort_bs1_ms": round(ort[key]["ort_bs1"], 3),
                "ort_bs32_ms": round(ort[key]["ort_bs32"], 2),
                "torch_bs1_ms": round(torch_ms["torch_bs1"], 3),
                "torch_bs32_ms": round(torch_ms["torch_bs32"], 2),
            })  # fmt: skip
    return rows


def render(data: dict[str, Any]) -> str:
    lines = [
        "# AFF mixer: einsum (official) vs grouped-conv complex MLP, DFT vs matmul FFT export",
        "",
        f"Command: `{data['command']}`; torch {data['setup']['torch']}; {THREADS} threads. "
        "ORT: interleaved passes (median of 5 passes x 10 runs); torch: eager, median. "
        "Log: `fourier_mixer_ort.log`.",
        "",
        "| model | complex MLP | FFT export | ORT parity | ORT bs1 ms | ORT bs32 ms "
        "| torch bs1 ms | torch bs32 ms |",
        "|---|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in data["rows"]:
        lines.append(
            f"| {r['model']} | {r['formulation']} | {r['fft_path']} | {r['parity']:.1e} "
            f"| {r['ort_bs1_ms']:.2f} | {r['ort_bs32_ms']:.1f} | {r['torch_bs1_ms']:.2f} "
            f"| {r['torch_bs32_ms']:.1f} |"
        )
    diffs = {r["model"]: r["formulation_diff"] for r in data["rows"]}
    lines += [
        "",
        "Largest output difference between the two formulations (torch, batch 4): "
        + ", ".join(f"{k} {v:.1e}" for k, v in diffs.items())
        + ".",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    torch.set_num_threads(THREADS)
    results = Results("fourier_mixer_ort", {"models": MODELS, "threads": THREADS}, render)
    with tempfile.TemporaryDirectory() as tmp:
        for name in MODELS:
            for row in measure(name, Path(tmp)):
                print(results.add(row), flush=True)


if __name__ == "__main__":
    main()
