"""Grouped convolutions pruned by whole groups (slimkit.surgery.conv_groups)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn
from torchvision.models.resnet import Bottleneck, ResNet

from slimkit.artifacts import SlimModel, load_artifact, save_artifact
from slimkit.measure import count_macs
from slimkit.measure.onnx_export import export_onnx
from slimkit.surgery import channel_groups, mask_channels, prune_channels, select_channels
from slimkit.surgery.contract import randomize_batchnorms


def _relative(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max() / b.abs().max())


def _tiny_resnext() -> nn.Module:
    torch.manual_seed(0)
    model = ResNet(Bottleneck, [1, 1, 1, 1], groups=4, width_per_group=4, num_classes=10)
    randomize_batchnorms(model.eval(), 0.3, 0)
    return model


def test_zero_units_are_removed_exactly_and_groups_shrink():
    model, x = _tiny_resnext(), torch.randn(2, 3, 32, 32)
    units = [g for g in channel_groups(model, x) if g.parts]
    # one unit group per grouped conv: channel g = conv group g, widths (in, out) per group
    assert [(u.root, u.size, u.unit_widths) for u in units] == [
        ("layer1.0.conv2", 4, (4, 4)),
        ("layer2.0.conv2", 4, (8, 8)),
        ("layer3.0.conv2", 4, (16, 16)),
        ("layer4.0.conv2", 4, (32, 32)),
    ]
    assert [p[0] for p in units[1].parts] == ["layer2.0.conv1", "layer2.0.conv2"]
    modules = dict(model.named_modules())
    with torch.no_grad():
        for name, row in zip(units[1].bn_names, units[1].bn_channels, strict=True):
            for g in (1, 2):
                modules[name].weight[row[g]] = 0.0  # groups 1 and 2: every scale 0
    groups = channel_groups(model, x)
    removal = select_channels(groups, "zeros")
    assert removal["layer2.0.conv2"] == [1, 2]
    mask_channels(model, removal, groups=groups)
    with torch.no_grad():
        masked = model(x)
        prune_channels(model, removal, x)
        out = model(x)
    conv = model.layer2[0].conv2
    assert (conv.groups, conv.in_channels, conv.out_channels) == (2, 16, 16)
    assert conv.weight.shape == (16, 8, 3, 3)  # group width unchanged
    assert model.layer2[0].conv1.out_channels == 16
    assert _relative(out, masked) <= 1e-5  # measured 6.7e-7


def test_macs_rule_removes_whole_groups_of_regnet_exactly(tmp_path: Path):
    def build() -> SlimModel:
        return SlimModel.build("tv:regnet_x_400mf", num_classes=10, input_size=(3, 64, 64))

    model = build().module.eval()
    randomize_batchnorms(model, 0.3, 0)
    x = torch.randn(2, 3, 64, 64)
    groups = channel_groups(model, x)
    units = {g.root for g in groups if g.parts}
    assert len(units) == 22  # every grouped conv of RegNetX-400MF
    dense = count_macs(model, (3, 64, 64))
    removal = select_channels(
        groups, "macs", macs_target=0.5, round_to=8, model=model, example_input=x[:1]
    )
    assert sum(len(v) for r, v in removal.items() if r in units) >= 20  # measured 54 groups
    mask_channels(model, removal, groups=groups)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    with torch.no_grad():
        masked = model(x)
        prune_channels(model, removal, x)
        out = model(x)
    assert _relative(out, masked) <= 1e-5  # measured 3.7e-7
    assert count_macs(model, (3, 64, 64)) <= 0.5 * dense
    for name, module in model.named_modules():
        if isinstance(module, nn.Conv2d) and 1 < module.groups < module.out_channels:
            assert module.in_channels % module.groups == 0, name
            assert module.out_channels % module.groups == 0, name
            assert module.in_channels // module.groups == 16, name  # RegNetX group width
    exported = export_onnx(model, tmp_path / "m.onnx", (3, 64, 64))
    assert exported.max_rel_diff <= 1e-4  # measured 3.9e-7
    handle = build()
    handle.module.load_state_dict(state)
    handle.apply_edit("prune_channels", removal=removal, input_size=[3, 64, 64])
    save_artifact(handle, tmp_path / "m.slim.pt")
    loaded = load_artifact(tmp_path / "m.slim.pt").module.eval()
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), out, rtol=1e-5, atol=1e-6)


class _GroupedStem(nn.Module):
    """A grouped conv reading the image: no BN can switch its input channels off."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(4, 8, 3, padding=1, groups=2, bias=False)
        self.bn = nn.BatchNorm2d(8)
        self.head = nn.Conv2d(8, 4, 1)
        self.bn2 = nn.BatchNorm2d(4)
        self.fc = nn.Linear(4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.bn2(self.head(torch.relu(self.bn(self.conv(x)))))
        return self.fc(x.mean((2, 3)))


def test_grouped_conv_without_units_is_refused_in_one_line():
    model, x = _GroupedStem().eval(), torch.randn(2, 4, 8, 8)
    assert all(g.root != "conv" for g in channel_groups(model, x))
    with pytest.raises(ValueError, match="'conv' is a grouped convolution") as info:
        prune_channels(model, {"conv": [0]}, x)
    assert "\n" not in str(info.value)
