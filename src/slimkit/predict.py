"""``slimkit predict``: a trained model's answer for image files, one line per image.

The run's preprocessing comes from the artifact's metadata: channels (grey or RGB), input size,
mean and std. The lines depend on the run's task: the top-5 classes of a classifier, the openness
of an eye model (``sigmoid`` of its output), the values of a regression model. ``--onnx`` runs the
exported ONNX file in ONNX Runtime instead of the PyTorch artifact (same preprocessing).

Example:
    >>> import torch
    >>> describe("eye_openness", torch.tensor([[0.0]]), None)
    [{'openness': 0.5}]
    >>> describe("classification", torch.tensor([[0.0, 2.0]]), ["cat", "dog"])[0]["top"][0]
    ['dog', 0.8808]
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch

ARTIFACT = "model.slim.pt"
ONNX = "model.onnx"


def resolve(path: str | Path, onnx: bool) -> tuple[Path, Path | None]:
    """(artifact, ONNX file or None) of a run directory or an artifact file."""
    p = Path(path)
    artifact = p / ARTIFACT if p.is_dir() else p
    if not artifact.is_file():
        raise ValueError(f"{path}: no model artifact ({ARTIFACT}) found")
    if not onnx:
        return artifact, None
    onnx_path = artifact.parent / ONNX
    if not onnx_path.is_file():
        raise ValueError(f"--onnx: no {ONNX} next to {artifact} (run an export stage first)")
    return artifact, onnx_path


def load_image(path: str | Path, input_size: Sequence[int], mean: Sequence[float],
               std: Sequence[float]) -> torch.Tensor:  # fmt: skip
    """One image file as the model's normalized input ``(1, C, H, W)``; ``ValueError`` naming
    the file when it is missing, a directory or not a readable image."""
    from PIL import Image, UnidentifiedImageError

    p = Path(path)
    if p.is_dir():
        raise ValueError(f"{path}: is a directory, not an image")
    if not p.is_file():
        raise ValueError(f"{path}: no such file")
    c, h, w = (int(v) for v in input_size)
    try:
        with Image.open(p) as im:
            im = im.convert("L" if c == 1 else "RGB").resize((w, h), Image.BILINEAR)
            arr = np.asarray(im, dtype=np.float32) / 255.0
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise ValueError(f"{path}: not a readable image ({type(exc).__name__})") from None
    x = torch.from_numpy(arr).reshape(h, w, -1).permute(2, 0, 1)[None]
    m = torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1)
    s = torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1)
    return (x - m) / s


def describe(task: str, outputs: torch.Tensor, classes: Sequence[str] | None) -> list[dict]:
    """One record per row of ``outputs``: top-5 ``[class, probability]`` for a classifier, the
    openness for an eye model, the values for a regression model."""
    out = outputs.detach().float().reshape(outputs.shape[0], -1)
    if task == "eye_openness":
        from slimkit.tasks.eye import openness

        return [{"openness": round(float(v), 4)} for v in openness(out)]
    if task == "regression":
        names = list(classes or [])
        return [
            {(names[i] if i < len(names) else f"y{i}"): round(float(v), 4) for i, v in enumerate(r)}
            for r in out
        ]
    if task == "classification":
        prob = out.softmax(1)
        k = min(5, prob.shape[1])
        top = prob.topk(k, dim=1)
        names = list(classes or [])
        return [
            {
                "top": [
                    [names[i] if i < len(names) else str(i), round(float(p), 4)]
                    for p, i in zip(ps.tolist(), ids.tolist(), strict=True)
                ]
            }
            for ps, ids in zip(top.values, top.indices, strict=True)
        ]
    raise ValueError(f"predict: task {task!r} has no per-image answer (detection/segmentation)")


def line(image: str, record: dict) -> str:
    """The human-readable line of one image."""
    if "top" in record:
        return f"{image}: " + ", ".join(f"{c} {p:.3f}" for c, p in record["top"])
    return f"{image}: " + ", ".join(f"{k} {v:.3f}" for k, v in record.items())


def predictor(artifact: Path, onnx: Path | None) -> tuple[Callable[[torch.Tensor], torch.Tensor], dict]:  # fmt: skip
    """A function from a normalized batch to the model's outputs, and the artifact's metadata."""
    from slimkit.artifacts import load_artifact

    handle = load_artifact(artifact)
    meta = dict(handle.meta)
    if onnx is not None:
        import onnxruntime as ort

        session = ort.InferenceSession(str(onnx), providers=["CPUExecutionProvider"])
        name = session.get_inputs()[0].name

        def run_onnx(x: torch.Tensor) -> torch.Tensor:
            return torch.from_numpy(session.run(None, {name: x.numpy()})[0])

        return run_onnx, meta
    model = handle.module.eval()

    def run_torch(x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return model(x)

    return run_torch, meta


def predict_files(
    target: str | Path, images: Sequence[str], *, onnx: bool = False
) -> tuple[list[tuple[str, dict]], list[str]]:
    """(image, record) for every readable image, and one error line per image that failed."""
    artifact, onnx_path = resolve(target, onnx)
    run, meta = predictor(artifact, onnx_path)
    task = meta.get("task") or "classification"
    results, errors = [], []
    for image in images:
        try:
            c = int(meta["input_size"][0])
            mean, std = meta.get("mean", [0.0] * c), meta.get("std", [1.0] * c)
            x = load_image(image, meta["input_size"], mean, std)
        except ValueError as exc:
            errors.append(str(exc))
            continue
        results.append((image, describe(task, run(x), meta.get("classes"))[0]))
    return results, errors


def score(record: dict) -> float:
    """The number a gallery sorts by: the openness, the top-1 probability, or the first value."""
    if "openness" in record:
        return float(record["openness"])
    if "top" in record:
        return float(record["top"][0][1])
    return float(next(iter(record.values())))


def gallery(results: Sequence[tuple[str, dict]], path: str | Path, *, tile: int = 72,
            columns: int = 8) -> Path:  # fmt: skip
    """A PNG of the images sorted by :func:`score` (lowest first, row by row), each captioned
    with its score; e.g. real eyes from closed to open."""
    from PIL import Image, ImageDraw

    ordered = sorted(results, key=lambda item: score(item[1]))
    rows = max(1, -(-len(ordered) // columns))
    sheet = Image.new("L", (columns * tile, rows * (tile + 14)), color=255)
    draw = ImageDraw.Draw(sheet)
    for k, (image, record) in enumerate(ordered):
        r, c = divmod(k, columns)
        with Image.open(image) as im:
            thumb = im.convert("L").resize((tile, tile), Image.NEAREST)
        sheet.paste(thumb, (c * tile, r * (tile + 14)))
        draw.text((c * tile + 2, r * (tile + 14) + tile), f"{score(record):.2f}", fill=0)
    out = Path(path)
    sheet.save(out)
    return out
