"""slimkit compare: rows from run directories, compare.md / compare.html / pareto.png, the CLI."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any

import pytest

from slimkit.cli import main
from slimkit.report.compare import CompareRow, render_comparison, rows_from_runs

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
DENSE_PARAMS, DENSE_MACS = 272_474, 40_813_184  # ResNet-20 on 32x32 inputs


def make_run_report(
    name: str,
    *,
    params: int,
    macs: int,
    top1: float,
    latency_ms: dict[str, float],
    stages: list[tuple[str, str, float]],
    total_seconds: float,
) -> dict[str, Any]:
    """A report.json dict as `pipeline.finish_run` writes it (``stages``: kind, name, seconds)."""
    return {
        "slimkit_version": "0.1.0",
        "recipe": {"name": name, "model": {"name": "resnet20"}, "stages": []},
        "command": f"slimkit run recipes/{name}.yaml",
        "created": "2025-01-01T12:00:00+00:00",
        "host": {"threads": 2, "torch": "2.5.0", "device": "cpu", "world_size": 1},
        "task": {"name": "classification", "headline": "top1"},
        "dataset": {"name": "cifar10", "train_size": 5000, "val_size": 0, "test_size": 1000},
        "initial": {"params": DENSE_PARAMS, "macs": DENSE_MACS},
        "final": {
            "params": params,
            "macs": macs,
            "metrics": {"top1": top1, "top5": 0.99, "loss": 0.4},
            "headline": {"name": "top1", "value": top1},
            "latency_ms": latency_ms,
            "top1": top1,
        },
        "stages": [
            {
                "kind": kind,
                "name": label,
                "seconds": sec,
                **({"top1": top1} if kind == "train" else {}),
            }
            for kind, label, sec in stages
        ],
        "artifacts": {"model": "model.slim.pt", "onnx": "model.onnx", "report_md": "report.md"},
        "plots": ["loss.png"],
        "total_seconds": total_seconds,
    }


def write_run(root: Path, dirname: str, report: dict[str, Any]) -> Path:
    run = root / dirname
    run.mkdir(parents=True)
    (run / "report.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    (run / ".slimkit-run").write_text("1234 host\n", encoding="utf-8")
    return run


@pytest.fixture
def three_runs(tmp_path: Path) -> list[Path]:
    """A dense fine-tune, a 2x and a 4x MAC reduction of ResNet-20 (same starting model)."""
    dense = make_run_report(
        "resnet20-dense",
        params=DENSE_PARAMS,
        macs=DENSE_MACS,
        top1=0.912,
        latency_ms={"torch_bs1": 2.0, "ort_bs1": 1.0, "ort_bs32": 20.0},
        stages=[("train", "train", 12.34)],
        total_seconds=13.0,
    )
    prox = make_run_report(
        "resnet20-prox-l1",
        params=136_237,
        macs=DENSE_MACS // 2,
        top1=0.9,
        latency_ms={"torch_bs1": 1.5, "ort_bs1": 0.8, "ort_bs32": 12.5},
        stages=[("train", "train", 12.34), ("prune", "prune", 1.0)],
        total_seconds=14.0,
    )
    slim = make_run_report(
        "resnet20-slim-l1",
        params=70_000,
        macs=DENSE_MACS // 4,
        top1=0.85,
        latency_ms={"ort_bs1": 0.5, "ort_bs32": 8.0},  # measured with ONNX Runtime only
        stages=[("train", "sparse", 10.0), ("prune", "prune", 1.04), ("train", "finetune", 3.0)],
        total_seconds=15.25,
    )
    runs = tmp_path / "runs"
    return [
        write_run(runs, "dense-20250101-120000", dense),
        write_run(runs, "prox-20250101-120500", prox),
        write_run(runs, "slim-20250101-121000", slim),
    ]


def _rows(md: str, label: str) -> list[str]:
    return [line for line in md.splitlines() if line.startswith(f"| {label} |")]


def test_compare_three_runs(tmp_path, three_runs, capsys):
    out = tmp_path / "cmp"
    assert main(["compare", *map(str, three_runs), "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    assert captured.out.splitlines() == [
        f"wrote {out / 'compare.md'}",
        f"wrote {out / 'compare.html'}",
        f"wrote {out / 'pareto.png'}",
    ]
    for name in ("compare.md", "compare.html", "pareto.png"):
        assert (out / name).is_file()

    md = (out / "compare.md").read_text(encoding="utf-8")
    assert md.splitlines()[0] == "# slimkit comparison"
    header = (
        "| run | top-1 | params | MACs | torch_bs1 | ort_bs1 | ort_bs32 | MACs × fewer "
        "| speed-up (ort_bs32) | stages | total |"
    )
    assert header in md.splitlines()
    # 272,474 params -> 0.2725 M; 40,813,184 MACs -> 40.81 M; the first run is the baseline
    assert _rows(md, "dense") == [
        "| dense | — | 0.2725 M | 40.81 M | — | — | — | 1.00× | — | — | — |"
    ]
    assert _rows(md, "resnet20-dense (baseline)") == [
        "| resnet20-dense (baseline) | 91.20 % | 0.2725 M | 40.81 M | 2 ms | 1 ms | 20 ms "
        "| 1.00× | 1.00× | train 12.3s | 13.0s |"
    ]
    # 40,813,184 / 20,406,592 = 2.00x fewer MACs; 20 ms / 12.5 ms = 1.60x faster
    assert _rows(md, "resnet20-prox-l1") == [
        "| resnet20-prox-l1 | 90.00 % | 0.1362 M | 20.41 M | 1.5 ms | 0.8 ms | 12.5 ms "
        "| 2.00× | 1.60× | train 12.3s · prune 1.0s | 14.0s |"
    ]
    # 40,813,184 / 10,203,296 = 4.00x; 20 / 8 = 2.50x; no torch latency -> a dash
    assert _rows(md, "resnet20-slim-l1") == [
        "| resnet20-slim-l1 | 85.00 % | 0.07 M | 10.2 M | — | 0.5 ms | 8 ms "
        "| 4.00× | 2.50× | sparse 10.0s · prune 1.0s · finetune 3.0s | 15.2s |"
    ]
    assert "![pareto](pareto.png)" in md
    for run in three_runs:
        assert f"`{run}`" in md  # sources listed

    page = (out / "compare.html").read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert page.count("<tr>") == 5  # header + dense + three runs
    for label in ("dense", "resnet20-dense (baseline)", "resnet20-prox-l1", "resnet20-slim-l1"):
        assert f"<td>{label}</td>" in page
    assert "<td>train 12.3s · prune 1.0s</td>" in page and "<td>2.50×</td>" in page
    match = re.search(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert match, "compare.html does not embed the plot"
    embedded = base64.b64decode(match.group(1))
    assert embedded == (out / "pareto.png").read_bytes()
    assert embedded[:8] == PNG_SIGNATURE
    assert "pareto.png" not in page  # self-contained: no link to a side file
    assert (out / "pareto.png").stat().st_size > 10_000  # two drawn panels, not a blank canvas


def test_baseline_by_label_and_by_path(tmp_path, three_runs, capsys):
    out = tmp_path / "by-label"
    args = ["compare", *map(str, three_runs), "--out", str(out)]
    assert main([*args, "--baseline", "resnet20-prox-l1"]) == 0
    md = (out / "compare.md").read_text(encoding="utf-8")
    # vs 20,406,592 MACs and 12.5 ms: the dense run has 0.50x, the 4x run 2.00x and 1.56x
    assert _rows(md, "resnet20-slim-l1")[0].split(" | ")[7:9] == ["2.00×", "1.56×"]
    assert _rows(md, "resnet20-dense")[0].split(" | ")[7:9] == ["0.50×", "0.62×"]
    assert _rows(md, "resnet20-prox-l1 (baseline)")

    out = tmp_path / "by-path"
    args = ["compare", *map(str, three_runs), "--out", str(out)]
    assert main([*args, "--baseline", str(three_runs[2])]) == 0
    md = (out / "compare.md").read_text(encoding="utf-8")
    assert _rows(md, "resnet20-slim-l1 (baseline)")[0].split(" | ")[7:9] == ["1.00×", "1.00×"]
    # 10,203,296 / 40,813,184 = 0.25x; 8 ms / 20 ms = 0.40x
    assert _rows(md, "resnet20-dense")[0].split(" | ")[7:9] == ["0.25×", "0.40×"]
    capsys.readouterr()


def test_non_run_directories_are_skipped_with_one_line(tmp_path, three_runs, capsys):
    empty = tmp_path / "not-a-run"
    empty.mkdir()
    broken = tmp_path / "broken-run"
    broken.mkdir()
    (broken / "report.json").write_text('{"final": {"params": 1', encoding="utf-8")
    out = tmp_path / "cmp"
    argv = ["compare", str(three_runs[0]), str(empty), str(broken), str(three_runs[1])]
    assert main([*argv, "--out", str(out)]) == 0
    err = capsys.readouterr().err.splitlines()
    assert err[0] == f"skipping {empty}: not a slimkit run directory (no report.json)"
    assert err[1].startswith(f"skipping {broken}: not a slimkit run directory (report.json is")
    assert len(err) == 2
    md = (out / "compare.md").read_text(encoding="utf-8")
    assert _rows(md, "resnet20-prox-l1") and not _rows(md, "resnet20-slim-l1")
    assert "not-a-run" not in md and "broken-run" not in md


def test_bad_baseline_exits_2_with_one_line(tmp_path, three_runs, capsys):
    out = tmp_path / "cmp"
    argv = ["compare", *map(str, three_runs), "--out", str(out), "--baseline", "nope"]
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.splitlines() == [
        "slimkit: error: baseline: 'nope' matches no row by label or path; labels: 'dense', "
        "'resnet20-dense', 'resnet20-prox-l1', 'resnet20-slim-l1'"
    ]
    assert not out.exists()  # nothing written


def test_no_valid_run_exits_2(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["compare", str(empty), str(tmp_path / "missing"), "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err == [
        f"skipping {empty}: not a slimkit run directory (no report.json)",
        f"skipping {tmp_path / 'missing'}: not a slimkit run directory (no such directory)",
        "slimkit: error: compare: no slimkit run directory among the 2 path(s) given "
        "(each needs a report.json)",
    ]
    assert not (tmp_path / "compare.md").exists()


def test_same_recipe_names_get_their_folder(tmp_path):
    report = make_run_report(
        "same",
        params=1000,
        macs=8000,
        top1=0.5,
        latency_ms={},
        stages=[("train", "train", 1.0)],
        total_seconds=1.0,
    )
    a, b = write_run(tmp_path, "same-1", report), write_run(tmp_path, "same-2", report)
    rows = rows_from_runs([a, b / "report.json"], echo=print)  # a report.json path counts too
    assert [r.label for r in rows] == ["dense", "same", "same (same-2)"]
    assert rows[0].is_dense and rows[0].headline_value is None and rows[0].macs == DENSE_MACS
    assert [r.source for r in rows] == [a, a, b]


def test_render_rows_without_run_directories(tmp_path):
    """Benchmarks build rows from their own JSON: no sources, a lower-is-better headline, and
    no latency at all (the latency panel says so)."""
    rows = [
        CompareRow("dense", "mae", 0.30, 2_000_000, 80_000_000, is_dense=True),
        CompareRow("pruned", "mae", 0.34, 1_000_000, 40_000_000, stage_seconds=[("train", 61.0)]),
        CompareRow("tiny", "mae", 0.50, 250_000, 10_000_000, total_seconds=5.0),
    ]
    paths = render_comparison(rows, tmp_path / "bench", title="eye openness: MAE")
    assert sorted(paths) == ["html", "md", "pareto"]
    md = paths["md"].read_text(encoding="utf-8")
    assert md.splitlines()[0] == "# eye openness: MAE"
    assert "| run | MAE | params | MACs | MACs × fewer | speed-up | stages | total |" in md
    # the default baseline is the first row that is not dense
    assert _rows(md, "dense") == ["| dense | 0.3 | 2 M | 80 M | 0.50× | — | — | — |"]
    assert _rows(md, "pruned (baseline)") == [
        "| pruned (baseline) | 0.34 | 1 M | 40 M | 1.00× | — | train 61.0s | — |"
    ]
    assert _rows(md, "tiny") == ["| tiny | 0.5 | 0.25 M | 10 M | 4.00× | — | — | 5.0s |"]
    assert "Sources" not in md
    assert paths["pareto"].read_bytes()[:8] == PNG_SIGNATURE
    with pytest.raises(ValueError, match=r"^compare: no rows to compare"):
        render_comparison([], tmp_path / "none")


def test_compare_a_real_tiny_run(tmp_path, three_runs, capsys, monkeypatch):
    from slimkit.pipeline import run_recipe
    from slimkit.recipes import recipe_from_dict

    recipe = recipe_from_dict(
        {
            "name": "lenet-digits",
            "model": {"name": "lenet5"},
            "data": {
                "name": "digits",
                "subset_per_class": 10,
                "test_subset_per_class": 5,
                "batch_size": 32,
            },
            "runtime": {"quiet": True, "threads": 1},
            "stages": [{"kind": "train", "epochs": 1}],
        }
    )
    run_dir = tmp_path / "real-run"
    report = run_recipe(recipe, run_dir, echo=lambda line: None)
    assert (run_dir / ".slimkit-run").is_file()

    monkeypatch.chdir(tmp_path)  # --out defaults to the current directory
    assert main(["compare", str(run_dir), str(three_runs[1])]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "wrote compare.md",
        "wrote compare.html",
        "wrote pareto.png",
    ]
    md = (tmp_path / "compare.md").read_text(encoding="utf-8")
    fin = report["final"]
    top1 = f"{100 * fin['headline']['value']:.2f} %"
    macs = f"{fin['macs'] / 1e6:.4g} M"
    (line,) = _rows(md, "lenet-digits (baseline)")
    cells = line.strip("| ").split(" | ")
    assert cells[1:4] == [top1, f"{fin['params'] / 1e6:.4g} M", macs]
    # no measure stage: no latency of its own; the other run's ort keys still get columns
    assert cells[4:7] == ["—", "—", "—"] and cells[7:9] == ["1.00×", "—"]
    assert cells[9] == f"train {report['stages'][0]['seconds']:.1f}s"
    # the dense row is LeNet-5 before training: same size, headline unknown
    assert _rows(md, "dense")[0].split(" | ")[1:4] == ["—", f"{fin['params'] / 1e6:.4g} M", macs]
    (other,) = _rows(md, "resnet20-prox-l1")
    assert other.split(" | ")[7] == f"{fin['macs'] / (DENSE_MACS // 2):.2f}×"
    assert "data:image/png;base64," in (tmp_path / "compare.html").read_text(encoding="utf-8")
