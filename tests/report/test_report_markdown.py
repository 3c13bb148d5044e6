"""render_markdown: summary table, stage table, generic fields, plots, command."""

from __future__ import annotations

import re

from slimkit.report import render_markdown


def _rows(md: str, first_cell: str) -> list[str]:
    return [line for line in md.splitlines() if line.startswith(f"| {first_cell} |")]


def test_title_dataset_and_summary(report):
    md = render_markdown(report)
    lines = md.splitlines()
    assert lines[0] == "# slimkit report: resnet20-slimming"
    assert "**Dataset:** digits (1,437 train, 360 test images)" in md
    assert lines[2].startswith("2025-01-01T12:00:00+00:00 · total 22.0 s · slimkit 0.1.0 · ")
    assert "threads 2" in lines[2]
    # 272,474 -> 0.2725 M; 120,000 -> 0.12 M; ratio 0.4404 -> -56.0 %, 2.27x smaller
    assert _rows(md, "params") == ["| params | 0.2725 M | 0.12 M | -56.0 % (2.27× smaller) |"]
    assert _rows(md, "MACs") == ["| MACs | 40.81 M | 18 M | -55.9 % (2.27× smaller) |"]
    assert _rows(md, "top-1") == ["| top-1 | — | 91.20 % |  |"]
    assert _rows(md, "latency torch_bs1") == ["| latency torch_bs1 | — | 1.23 ms |  |"]
    assert _rows(md, "latency ort_bs64") == ["| latency ort_bs64 | — | 20.5 ms |  |"]
    assert "multiply-accumulates" in md
    assert md.endswith("\n") and not md.endswith("\n\n")


def test_initial_top1_and_latency_give_changes(report):
    report["initial"]["top1"] = 0.92
    report["initial"]["latency_ms"] = {"torch_bs1": 2.468, "tv_only": 150.0}
    md = render_markdown(report)
    assert _rows(md, "top-1") == ["| top-1 | 92.00 % | 91.20 % | -0.80 pp |"]
    assert _rows(md, "latency torch_bs1") == [
        "| latency torch_bs1 | 2.47 ms | 1.23 ms | -50.0 % (2.00× smaller) |"
    ]
    assert _rows(md, "latency tv_only") == ["| latency tv_only | 150 ms | — |  |"]


def test_no_latency_measured(report):
    report["final"]["latency_ms"] = {}
    md = render_markdown(report)
    assert not [line for line in md.splitlines() if line.startswith("| latency")]
    assert _rows(md, "MACs")


def test_stage_table(report):
    md = render_markdown(report)
    assert _rows(md, "0") == ["| 0 | train | 12.5 | 88.00 % | epochs=3, train_loss=0.41 |"]
    assert _rows(md, "1") == ["| 1 | prune | 0.4 | — | channels_removed=152 |"]
    assert _rows(md, "3") == ["| 3 | export | 1.1 | — | onnx=model.onnx, max_abs_diff=2.1e-06 |"]


def test_unknown_dict_and_list_fields_render_compactly(report):
    ranks = {f"layer{i}.conv": i for i in range(60)}
    per_layer = [{"layer": f"l{i}", "kept": i, "of": 64} for i in range(45)]
    report["stages"].append(
        {
            "kind": "factorize",
            "seconds": 2.0,
            "ranks": ranks,
            "per_layer": per_layer,
            "bits": {"conv1": 4, "fc": 8},
            "weird": {"a": [1, {"b": None}], "c": "x" * 5000},
            "pipes": "a|b",
            "nan": float("nan"),
        }
    )
    md = render_markdown(report)
    row = _rows(md, "4")[0]
    assert "ranks=(60 entries, below)" in row and "per_layer=(45 entries, below)" in row
    assert "bits={conv1: 4, fc: 8}" in row
    assert "pipes=a\\|b" in row and "nan=nan" in row
    # row cells stay 5 columns despite the pipe in a value
    assert len(re.split(r"(?<!\\)\|", row)) == 7
    assert "<summary>stage 4 (factorize): ranks</summary>" in md
    assert "| layer59.conv | 59 |" not in md  # collapsed table truncated at 40 rows
    assert "| layer39.conv | 39 |" in md and "… and 20 more" in md
    assert "| layer | kept | of |" in md and "| l39 | 39 | 64 |" in md and "… and 5 more" in md
    assert "<summary>stage 4 (factorize): weird</summary>" in md and "more characters)" in md


def test_artifacts_plots_and_command(report):
    report["plots"] = ["loss.png", "accuracy.png", "sparsity/bn_hist.png"]
    report["command"] = ["slimkit", "run", "recipes/my recipe.yaml"]
    md = render_markdown(report)
    assert "- model: [`model.pt`](model.pt)" in md
    assert "- ONNX: [`model.onnx`](model.onnx)" in md
    for link in (
        "![loss](loss.png)",
        "![accuracy](accuracy.png)",
        "![bn_hist](sparsity/bn_hist.png)",
    ):
        assert link in md
    assert "## Reproduce\n\n```bash\nslimkit run 'recipes/my recipe.yaml'\n```" in md
    assert "<summary>Resolved recipe</summary>" in md and "name: resnet20-slimming" in md
    report["artifacts"]["onnx"] = None
    report["command"] = "slimkit run r.yaml"
    md = render_markdown(report)
    assert "- ONNX: not exported" in md and "slimkit run r.yaml" in md


def test_sparse_report_does_not_crash():
    md = render_markdown({"run_dir": "/tmp/runs/abc", "stages": [{"kind": "train"}, "junk"]})
    assert md.startswith("# slimkit report: abc\n")
    assert "| 0 | train | — | — |  |" in md
    assert "## Plots" not in md and "## Reproduce" not in md
