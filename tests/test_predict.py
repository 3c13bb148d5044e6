"""``slimkit predict``: one line per image, one error line per bad file, exit status."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from slimkit.artifacts import SlimModel, save_artifact
from slimkit.measure import export_onnx
from slimkit.predict import predict_files
from tests.helpers import run_cli

CLASSES = [f"c{i}" for i in range(10)]


def _model_dir(tmp_path: Path, onnx: bool = False) -> Path:
    torch.manual_seed(0)
    handle = SlimModel.build("lenet5", num_classes=10, input_size=(3, 32, 32),
                             meta={"task": "classification", "classes": CLASSES})  # fmt: skip
    handle.meta.update({"mean": [0.5] * 3, "std": [0.25] * 3})
    run = tmp_path / "run"
    run.mkdir()
    save_artifact(handle, run / "model.slim.pt")
    if onnx:
        export_onnx(handle.module.eval(), run / "model.onnx", (3, 32, 32))
    return run


def _images(tmp_path: Path) -> list[str]:
    rng = np.random.default_rng(0)
    paths = []
    for i, size in enumerate((32, 48, 20)):  # resized to 32x32; one grey image becomes RGB
        arr = rng.integers(0, 255, (size, size, 3) if i < 2 else (size, size), dtype=np.uint8)
        path = tmp_path / f"img{i}.png"
        Image.fromarray(arr).save(path)
        paths.append(str(path))
    return paths


def test_predict_prints_one_line_per_image_and_names_each_bad_file(tmp_path: Path) -> None:
    run = _model_dir(tmp_path)
    good = _images(tmp_path)
    corrupt = tmp_path / "corrupt.png"
    corrupt.write_bytes(b"\x89PNG not really")
    missing = tmp_path / "missing.png"
    sheet = tmp_path / "sheet.png"
    result = run_cli("predict", str(run), *good, "--gallery", str(sheet), timeout=300)
    assert result.returncode == 0, result.stderr
    assert Image.open(sheet).size == (8 * 72, 72 + 14)  # sorted by top-1 probability
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 3 and all(
        line.startswith(p + ": c") for line, p in zip(lines, good, strict=True)
    )
    assert all(len(line.split(", ")) == 5 for line in lines)  # top-5 classes
    bad = run_cli("predict", str(run), good[0], str(corrupt), str(missing), str(tmp_path),
                  good[1], "--json", timeout=300)  # fmt: skip
    assert bad.returncode == 2
    records = [json.loads(line) for line in bad.stdout.strip().splitlines()]
    assert [r["image"] for r in records] == [good[0], good[1]] and len(records[0]["top"]) == 5
    errors = bad.stderr.strip().splitlines()
    assert len(errors) == 3
    assert "corrupt.png: not a readable image" in errors[0]
    assert "missing.png: no such file" in errors[1] and "is a directory" in errors[2]


def test_predict_with_onnx_matches_the_artifact(tmp_path: Path) -> None:
    run = _model_dir(tmp_path, onnx=True)
    good = _images(tmp_path)
    torch_out, _ = predict_files(run, good)
    onnx_out, _ = predict_files(run / "model.slim.pt", good, onnx=True)
    for (_, a), (_, b) in zip(torch_out, onnx_out, strict=True):
        assert [c for c, _ in a["top"]] == [c for c, _ in b["top"]]
        assert np.allclose([p for _, p in a["top"]], [p for _, p in b["top"]], atol=1e-3)


def test_predict_without_a_model_is_a_one_line_error(tmp_path: Path) -> None:
    result = run_cli("predict", str(tmp_path), "x.png", timeout=120)
    assert result.returncode == 2 and "no model artifact" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
