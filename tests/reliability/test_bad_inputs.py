"""Every bad input from the reliability report: one line, non-zero exit, no traceback, nothing
accepted silently, and nothing left half-written."""

from __future__ import annotations

import errno
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from slimkit import cli as cli_module
from slimkit.artifacts import SlimModel, save_artifact
from slimkit.engine.checkpoint import atomic_save
from slimkit.measure.onnx_export import ExportError, export_onnx
from tests.helpers import REPO
from tests.reliability.cli_probe import cli

QUICKSTART = (REPO / "recipes" / "quickstart.yaml").read_text()


def tiny_recipe(**data: object) -> dict:
    return {
        "name": "tiny",
        "model": {"name": "lenet5"},
        "data": {
            "name": "digits",
            "subset_per_class": 6,
            "test_subset_per_class": 3,
            "batch_size": 16,
            **data,
        },
        "runtime": {"quiet": True, "threads": 1},
        "stages": [{"kind": "train", "epochs": 1}],
    }


def write(path: Path, recipe: dict | str | bytes) -> str:
    if isinstance(recipe, dict):
        recipe = yaml.safe_dump(recipe, sort_keys=False)
    if isinstance(recipe, str):
        recipe = recipe.encode()
    path.write_bytes(recipe)
    return str(path)


# -- validate: refused up front, one line naming the field --------------------------------------

BOMB = (  # 9 levels of 9 aliases: 9**9 = 387 M strings from under 1 kB
    'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    + "".join(
        f"{c}: &{c} [" + ",".join([f"*{p}"] * 9) + "]\n"
        for p, c in zip("abcdefgh", "bcdefghi", strict=True)
    )
)

INVALID_RECIPES = {
    "duplicate key": (
        QUICKSTART.replace("epochs: 12", "epochs: 1\n    epochs: 50"),
        "line 21: duplicate key 'epochs' (first given on line 20)",
    ),
    "second stages": (QUICKSTART + "stages:\n  - kind: evaluate\n", "duplicate key 'stages'"),
    "alias bomb": (BOMB + QUICKSTART, "aliases expand to more than 100,000 values"),
    "5000 nested lists": (QUICKSTART + "x: " + "[" * 5000 + "]" * 5000, "nesting deeper"),
    "min_lr inf": (
        QUICKSTART.replace("warmup_epochs: 1", "warmup_epochs: 1, min_lr: .inf"),
        "stages[0].schedule.min_lr: expected a finite number, got inf",
    ),
    "warmup inf": (
        QUICKSTART.replace("warmup_epochs: 1", "warmup_epochs: .inf"),
        "stages[0].schedule.warmup_epochs: expected a finite number, got inf",
    ),
    "opset 99": (
        QUICKSTART.replace("- kind: export", "- kind: export\n    opset: 99"),
        "stages[2].opset: the installed torch ONNX exporter writes opsets 11..",
    ),
    "batch size 0": (
        QUICKSTART.replace("batch_sizes: [1, 32]", "batch_sizes: [0]"),
        "stages[3].batch_sizes[0]: Input should be greater than 0",
    ),
    "seed 2**70": (QUICKSTART.replace("seed: 0", f"seed: {2**70}"), "seed: Input should be less"),
    "stages: 5": ("model: {name: lenet5}\nstages: 5\n", "stages: expected a list, got int 5"),
    "num_classes ten": (
        QUICKSTART.replace("name: resnet20", "name: resnet20\n  kwargs: {num_classes: ten}"),
        "model.kwargs: 'num_classes' is set from the dataset",
    ),
    "std zero": (
        QUICKSTART.replace("batch_size: 64", "batch_size: 64\n  std: [0.0]"),
        "data.std: every std must be > 0",
    ),
    "nan in penalty kwargs": (
        QUICKSTART.replace(
            "schedule: {name: cosine, warmup_epochs: 1}",
            "schedule: {name: cosine}\n    terms: [{name: bn_sparsity, penalty_kwargs: {a: .nan}}]",
        ),
        "stages[0].terms[0].penalty_kwargs.a: expected a finite number",
    ),
    "missing weights": (
        QUICKSTART.replace("name: resnet20", "name: resnet20\n  weights: no/such.pt"),
        "model.weights: the weights file does not exist",
    ),
}


@pytest.mark.parametrize("case", sorted(INVALID_RECIPES))
def test_validate_refuses_with_one_line(case: str, tmp_path: Path) -> None:
    text, expected = INVALID_RECIPES[case]
    line = cli("validate", write(tmp_path / "r.yaml", text)).one_line_error()
    assert expected in line, line


def test_non_utf8_recipe_names_the_file_and_offset(tmp_path: Path) -> None:
    path = write(tmp_path / "latin1.yaml", QUICKSTART.encode().replace(b"quick", b"qu\xf5ck", 1))
    line = cli("validate", path).one_line_error()
    assert path in line and "not UTF-8" in line and "0xf5" in line, line


def test_override_into_a_stages_mapping_is_one_line(tmp_path: Path) -> None:
    path = write(tmp_path / "r.yaml", "model: {name: lenet5}\nstages: {a: 1}\n")
    line = cli("validate", path, "stages.0.epochs=1").one_line_error()
    assert "stages: expected a list" in line, line


def test_small_aliases_still_work(tmp_path: Path) -> None:
    text = (
        QUICKSTART.replace("optimizer: {name: sgd,", "optimizer: &opt {name: sgd,")
        + "  - kind: train\n    epochs: 1\n    optimizer: *opt\n"
    )
    outcome = cli("validate", write(tmp_path / "r.yaml", text))
    assert outcome.rc == 0, outcome.err


# -- the command line: one line for bad files, artifacts, directories ---------------------------


def test_resume_on_missing_directory_is_an_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    recipe = write(tmp_path / "r.yaml", tiny_recipe())
    line = cli("run", recipe, "--out", str(missing), "--resume").one_line_error()
    assert "does not exist" in line and str(missing) in line
    assert not missing.exists()


def test_out_pointing_at_a_file_is_an_error(tmp_path: Path) -> None:
    recipe = write(tmp_path / "r.yaml", tiny_recipe())
    target = tmp_path / "file.txt"
    target.write_text("x")
    line = cli("run", recipe, "--out", str(target)).one_line_error()
    assert "is a file" in line


@pytest.fixture()
def artifact(tmp_path: Path) -> Path:
    handle = SlimModel.build("lenet5", num_classes=10, input_size=(1, 28, 28))
    path = tmp_path / "m.slim.pt"
    save_artifact(handle, path)
    return path


def _damage(path: Path, change) -> Path:
    data = torch.load(path, weights_only=True)
    change(data)
    out = path.with_name("damaged.slim.pt")
    torch.save(data, out)
    return out


DAMAGES = {
    "missing builder": (lambda d: d.pop("builder"), "builder: expected a mapping"),
    "missing input_size": (lambda d: d["meta"].pop("input_size"), "meta.input_size: expected"),
    "240 GB input": (
        lambda d: d["meta"].update(input_size=[1, 400_000, 150_000]),
        "more than the 67,108,864 slimkit accepts",
    ),
    "bad edit params": (
        lambda d: d["edits"].append({"kind": "prune_channels", "params": {"nope": 1}}),
        "edits[0] (prune_channels) cannot be replayed",
    ),
    "unknown edit": (
        lambda d: d["edits"].append({"kind": "teleport", "params": {}}),
        "edits[0].kind: unknown edit 'teleport'",
    ),
    "num_classes text": (
        lambda d: d["builder"].update(num_classes="ten"),
        "builder.num_classes: expected an integer",
    ),
}


@pytest.mark.parametrize("case", sorted(DAMAGES))
def test_malformed_artifact_is_one_line(case: str, artifact: Path) -> None:
    change, expected = DAMAGES[case]
    damaged = _damage(artifact, change)
    line = cli("measure", str(damaged), "--batch-sizes", "1").one_line_error()
    assert expected in line and str(damaged) in line, line


def test_truncated_artifact_is_one_line(artifact: Path) -> None:
    data = artifact.read_bytes()
    artifact.write_bytes(data[: len(data) // 2])
    line = cli("export", str(artifact), "--onnx", str(artifact.with_suffix(".onnx")))
    assert "not a slimkit artifact" in line.one_line_error()


def test_export_to_a_directory_is_one_line(artifact: Path, tmp_path: Path) -> None:
    line = cli("export", str(artifact), "--onnx", str(tmp_path)).one_line_error()
    assert "is a directory" in line


def test_unexpected_error_is_one_line_with_a_debug_hint(monkeypatch) -> None:
    def broken(args):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setitem(cli_module._COMMANDS, "models", broken)
    outcome = cli("models")
    line = outcome.one_line_error()
    assert outcome.rc == cli_module.EXIT_INTERNAL_ERROR == 3
    assert "ZeroDivisionError" in line and "SLIMKIT_DEBUG=1" in line


def test_disk_full_is_one_line_and_leaves_no_temp_file(monkeypatch, tmp_path: Path) -> None:
    def full_disk(obj, f, *a, **k):
        Path(f).write_bytes(b"partial")
        raise OSError(errno.ENOSPC, "No space left on device", str(f))

    monkeypatch.setattr(torch, "save", full_disk)
    with pytest.raises(OSError) as caught:
        atomic_save({"x": 1}, tmp_path / "ck.pt")
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no temp file, no target
    rc = cli_module._report_error(caught.value)
    assert rc == 2


def test_text_file_as_weights_is_one_line(tmp_path: Path) -> None:
    weights = tmp_path / "weights.pt"
    weights.write_text("these are not weights\n")
    recipe = tiny_recipe()
    recipe["model"]["weights"] = str(weights)
    line = cli("run", write(tmp_path / "r.yaml", recipe), "--out", str(tmp_path / "run"))
    text = line.one_line_error()
    assert str(weights) in text and "cannot read weights" in text, text


def test_truncated_npz_names_the_file(tmp_path: Path) -> None:
    data = tmp_path / "d.npz"
    x = np.zeros((40, 8, 8, 1), np.uint8)
    y = np.arange(40) % 2
    np.savez_compressed(data, x_train=x, y_train=y, x_test=x, y_test=y)
    data.write_bytes(data.read_bytes()[:300])
    recipe = tiny_recipe(name="npz", root=str(data), subset_per_class=None)
    recipe["data"].pop("test_subset_per_class")
    text = cli("run", write(tmp_path / "r.yaml", recipe), "--out", str(tmp_path / "run"))
    line = text.one_line_error()
    assert str(data) in line and "cannot read" in line, line


def test_empty_test_set_is_an_error(tmp_path: Path) -> None:
    data = tmp_path / "d.npz"
    x = np.zeros((40, 8, 8, 1), np.uint8)
    y = np.arange(40) % 2
    np.savez(data, x_train=x, y_train=y, x_test=x[:0], y_test=y[:0])
    recipe = tiny_recipe(name="npz", root=str(data), subset_per_class=None)
    recipe["data"].pop("test_subset_per_class")
    text = cli("run", write(tmp_path / "r.yaml", recipe), "--out", str(tmp_path / "run"))
    assert "test split of 'npz' is empty" in text.one_line_error()
    assert not (tmp_path / "run" / "metrics.jsonl").exists()  # refused before any training


def test_batch_larger_than_training_set_is_an_error_unless_drop_last_false(
    tmp_path: Path,
) -> None:
    recipe = tiny_recipe(batch_size=512)  # 60 training images
    path = write(tmp_path / "r.yaml", recipe)
    text = cli("run", path, "--out", str(tmp_path / "a")).one_line_error()
    assert "data.batch_size: 512 is larger than the training set (60 samples)" in text
    recipe["data"]["drop_last"] = False
    outcome = cli("run", write(tmp_path / "r2.yaml", recipe), "--out", str(tmp_path / "b"))
    assert outcome.rc == 0, outcome.err
    report = yaml.safe_load((tmp_path / "b" / "report.json").read_text())
    assert report["stages"][0]["steps"] == 1  # one partial batch of 60


def test_unknown_model_argument_is_one_line(tmp_path: Path) -> None:
    recipe = tiny_recipe()
    recipe["model"]["kwargs"] = {"widht": 2}
    text = cli("run", write(tmp_path / "r.yaml", recipe), "--out", str(tmp_path / "run"))
    line = text.one_line_error()
    assert "'lenet5' got unexpected argument 'widht'" in line, line


def test_truncated_state_json_names_the_file(tmp_path: Path) -> None:
    run = tmp_path / "run"
    recipe = write(tmp_path / "r.yaml", tiny_recipe())
    assert cli("run", recipe, "--out", str(run)).rc == 0
    state = run / "state.json"
    state.write_text(state.read_text()[:20])
    line = cli("run", recipe, "--out", str(run), "--resume").one_line_error()
    assert str(state) in line and "damaged" in line, line


def test_nan_outputs_fail_the_onnx_parity_check(tmp_path: Path) -> None:
    class AllNaN(torch.nn.Module):
        def forward(self, x):
            return x.flatten(1) * float("nan")

    with pytest.raises(ExportError, match="NaN/Inf"):
        export_onnx(AllNaN(), tmp_path / "nan.onnx", (1, 4, 4))
