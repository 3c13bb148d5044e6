"""write_report / rerender on a temporary run directory, plus the figure helpers."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from slimkit.report import (
    ReportError,
    new_figure,
    plot_training_curves,
    rerender,
    save_figure,
    write_report,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE, f"{path} is not a PNG"
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_write_report_two_train_stages(tmp_path, report, metrics_two_stages, jsonl):
    jsonl(tmp_path / "metrics.jsonl", metrics_two_stages, tail='{"event": "step", "sta')
    report["plots"] = ["sparsity/bn_hist.png"]  # added by a method before the report
    written = write_report(tmp_path, report)

    assert set(written) == {"json", "md", "loss", "accuracy"}
    assert written["loss"] == tmp_path / "loss.png"
    for name in ("loss", "accuracy"):
        width, height = _png_size(written[name])
        assert (width, height) == (840, 480)  # 7 x 4 inches at 120 dpi
        assert written[name].stat().st_size > 5000  # real curves, not an empty canvas

    saved = json.loads((tmp_path / "report.json").read_text())
    assert saved["plots"] == ["loss.png", "accuracy.png", "sparsity/bn_hist.png"]
    assert report["plots"] == saved["plots"]  # updated in place
    assert saved["final"] == report["final"] and saved["stages"] == report["stages"]
    assert (tmp_path / "report.json").read_text().startswith('{\n  "slimkit_version"')

    md = (tmp_path / "report.md").read_text()
    assert "| MACs | 40.81 M | 18 M |" in md
    for link in (
        "![loss](loss.png)",
        "![accuracy](accuracy.png)",
        "![bn_hist](sparsity/bn_hist.png)",
    ):
        assert link in md
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_extra_epoch_fields_get_their_own_plot(tmp_path, lines):
    recs = [
        lines.epoch(0, e, 10 * e, sparsity=0.1 * e, lr=0.1, images_per_s=9.0) for e in (1, 2, 3)
    ]
    paths = plot_training_curves(recs, tmp_path)
    assert [p.name for p in paths] == ["loss.png", "accuracy.png", "epoch_metrics.png"]
    width, height = _png_size(paths[2])
    assert (width, height) == (840, int(round((2.2 + 0.6) * 120)))  # one panel: sparsity


def test_nothing_to_plot(tmp_path, report):
    assert plot_training_curves([], tmp_path) == []
    written = write_report(tmp_path / "run", report)  # no metrics.jsonl: no plots
    assert set(written) == {"json", "md"}
    assert json.loads(written["json"].read_text())["plots"] == []
    assert "## Plots" not in written["md"].read_text()


def test_invalid_report_writes_nothing(tmp_path, report, metrics_two_stages, jsonl):
    jsonl(tmp_path / "metrics.jsonl", metrics_two_stages)
    report["final"]["top1"] = 1.7
    with pytest.raises(ReportError, match=r"final\.top1 must be a float in \[0, 1\], got 1\.7"):
        write_report(tmp_path, report)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.jsonl"]


def test_numpy_paths_and_nan_become_plain_json(tmp_path, report):
    report["final"]["params"] = np.int64(120_000)
    report["stages"][1]["channels_removed"] = np.array([3, 4])
    report["stages"][1]["norm"] = float("nan")
    report["stages"][1]["where"] = tmp_path / "x"
    report["stages"][1]["kept"] = {np.float32(0.5)}
    write_report(tmp_path, report)
    saved = json.loads((tmp_path / "report.json").read_text())  # strict: NaN would be invalid
    assert saved["final"]["params"] == 120_000
    assert saved["stages"][1] == {
        "kind": "prune",
        "seconds": 0.4,
        "channels_removed": [3, 4],
        "norm": None,
        "where": str(tmp_path / "x"),
        "kept": [0.5],
    }
    report["stages"][1]["model"] = object()
    with pytest.raises(ReportError, match=r"stages\[1\]\.model holds a object"):
        write_report(tmp_path, report)


def test_rerender_recreates_plots_and_markdown(tmp_path, report, metrics_two_stages, jsonl):
    jsonl(tmp_path / "metrics.jsonl", metrics_two_stages)
    report["plots"] = ["method.png"]
    write_report(tmp_path, report)
    for name in ("report.md", "loss.png", "accuracy.png"):
        (tmp_path / name).unlink()
    written = rerender(tmp_path)
    assert set(written) == {"json", "md", "loss", "accuracy"}
    assert all(p.is_file() for p in written.values())
    saved = json.loads((tmp_path / "report.json").read_text())
    assert saved["plots"] == ["loss.png", "accuracy.png", "method.png"]  # not duplicated
    assert "![accuracy](accuracy.png)" in (tmp_path / "report.md").read_text()

    (tmp_path / "metrics.jsonl").unlink()  # standard plots that cannot be redrawn drop out
    rerender(tmp_path)
    assert json.loads((tmp_path / "report.json").read_text())["plots"] == ["method.png"]
    assert not (tmp_path / "loss.png").exists() and not (tmp_path / "accuracy.png").exists()


def test_rerender_errors_are_one_line(tmp_path):
    with pytest.raises(ValueError, match="no report.json here") as info:
        rerender(tmp_path)
    assert "\n" not in str(info.value)
    with pytest.raises(ValueError, match="does not exist"):
        rerender(tmp_path / "missing")
    (tmp_path / "report.json").write_text('{"slimkit_version": ')
    with pytest.raises(ReportError, match=r"report\.json: not valid JSON \(Expecting value"):
        rerender(tmp_path)
    (tmp_path / "report.json").write_text('{"slimkit_version": "0.1.0"}')
    with pytest.raises(ReportError, match="missing required key 'recipe'"):
        rerender(tmp_path)


def test_save_figure_sizes_and_closes_pyplot_figures(tmp_path):
    fig, ax = new_figure(figsize=(3.0, 2.0))
    ax.plot([0, 1, 2], [2, 0, 1])
    path = save_figure(fig, tmp_path / "sub" / "a.png")
    assert _png_size(path) == (360, 240)

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig2 = plt.figure(figsize=(2.0, 1.0))
    save_figure(fig2, tmp_path / "b.png")
    assert _png_size(tmp_path / "b.png") == (240, 120)
    assert not plt.fignum_exists(fig2.number)


def test_plotting_does_not_touch_pyplot(tmp_path):
    code = (
        "import sys\n"
        "from slimkit.report import plot_training_curves\n"
        "recs = [{'event': 'epoch', 'epoch': 1, 'step': 5, 'test_top1': 0.5}]\n"
        "assert plot_training_curves(recs, sys.argv[1])\n"
        "assert 'matplotlib.pyplot' not in sys.modules\n"
    )
    src = str(Path(__file__).parents[2] / "src")
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [src, os.environ.get("PYTHONPATH")])),
    }
    subprocess.run([sys.executable, "-c", code, str(tmp_path)], check=True, env=env)
