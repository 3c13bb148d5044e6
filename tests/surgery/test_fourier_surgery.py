"""Channel surgery and ONNX export of the Fourier backbones (AFFNet / AFIDAF)."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import torch
from torch import nn

from slimkit.measure import export_onnx
from slimkit.measure import onnx_export as onnx_export_module
from slimkit.measure.onnx_export import ExportError
from slimkit.models.fourier import AFFMixer
from slimkit.surgery.contract import check_surgery
from slimkit.surgery.fourier import AFFMixerPruner


def test_afidaf_tiny_surgery_is_exact() -> None:
    # measured: 536 prunable channels, the zeros rule removes 99, relative change 1.8e-7
    result = check_surgery("afidaf_tiny", input_size=(3, 32, 32), onnx=False)
    assert result.outcome == "exact", result.reason
    assert result.prunable_channels >= 500 and result.zeros_removed > 50
    assert result.zeros_change < 1e-5 and result.reload_equal


def test_mixer_pruner_removes_the_same_channels_from_each_group_exactly() -> None:
    torch.manual_seed(0)
    mixer = AFFMixer(16, groups=8)  # d = 2 channels per group
    x = torch.randn(2, 16, 6, 6)
    drop = [0, 3, 5, 6, 9, 10, 13, 15]  # one channel of each group
    x[:, drop] = 0
    keep = [c for c in range(16) if c not in drop]
    reference = mixer(x)[:, keep]
    pruned = AFFMixerPruner().prune_out_channels(copy.deepcopy(mixer), drop)
    assert pruned.channels == 8 and pruned.w1.shape == (2, 8, 1, 2)  # hidden width kept
    assert torch.allclose(pruned(x[:, keep]), reference, atol=1e-6)


def test_mixer_pruner_refuses_unequal_groups_in_one_line() -> None:
    with pytest.raises(ValueError, match=r"^AFFMixer\(16\): the Fourier mask's 8 groups must lose "
                                         r"the same number of channels"):  # fmt: skip
        AFFMixerPruner().prune_out_channels(AFFMixer(16), [0, 1])


def _fourier_net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), AFFMixer(8), nn.Flatten(),
                         nn.Linear(8 * 7 * 5, 3)).eval()  # fmt: skip


@pytest.mark.parametrize("path", ["dft", "matmul"])
def test_both_fft_export_paths_match_torch(path: str, tmp_path: Path) -> None:
    result = export_onnx(_fourier_net(), tmp_path / "m.onnx", (3, 7, 5), fft=path)
    assert result.fft_path == path
    assert result.max_abs_diff <= 1e-4  # measured ~1e-7 for both


def test_auto_falls_back_to_matmul_when_the_dft_export_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_write = onnx_export_module._write

    def no_dynamo(model: nn.Module, x: torch.Tensor, *args: object) -> None:
        if args[-1] == "dynamo":
            raise ExportError("export: no DFT here")
        real_write(model, x, *args)

    monkeypatch.setattr(onnx_export_module, "_write", no_dynamo)
    result = export_onnx(_fourier_net(), tmp_path / "m.onnx", (3, 7, 5))
    assert result.fft_path == "matmul" and result.max_abs_diff <= 1e-4
    with pytest.raises(ExportError, match=r"^export: the DFT path failed \(export: no DFT here\)"):
        export_onnx(_fourier_net(), tmp_path / "m.onnx", (3, 7, 5), fft="dft")


def test_export_failing_on_both_paths_names_the_layer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object) -> None:
        raise ExportError("export: unsupported")

    monkeypatch.setattr(onnx_export_module, "_write", broken)
    with pytest.raises(ExportError, match=r"^export: layer '1' cannot be exported with FFTs"):
        export_onnx(_fourier_net(), tmp_path / "m.onnx", (3, 7, 5))
