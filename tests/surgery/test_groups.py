"""Channel groups: coupling, BN-prunability analysis, option-A handling, side effects."""

from __future__ import annotations

import pytest
import torch

from slimkit.artifacts import SlimModel
from slimkit.models import build_model, shortcut_a_to_b
from slimkit.surgery import channel_groups, channels_per_layer, mask_channels, prune_channels
from tests.surgery.common import mask_and_prune, randomize_bn

X = torch.randn(2, 3, 32, 32)


def test_residual_stream_couples_every_bn_on_it() -> None:
    model = build_model("resnet8_tiny")
    groups = {g.root: g for g in channel_groups(model, X)}
    stream = next(g for g in groups.values() if "layer1.0.bn2" in g.bn_names)
    assert set(stream.bn_names) == {"bn1", "layer1.0.bn2"}
    assert stream.size == 4 and stream.scales.shape == (2, 4)
    assert all(g.root != "fc" for g in groups.values())  # the classifier is never a root


def test_preact_stream_read_by_raw_projection_is_not_prunable() -> None:
    """The stage-1 stream of a pre-activation ResNet feeds layer2.0.downsample un-normalized:
    masking its BNs cannot zero it, so channel_groups must leave it out, and forcing it must
    change the output (which shows the exclusion is needed)."""
    model = randomize_bn(build_model("resnet_bottleneck_tiny")).eval()
    roots = {g.root for g in channel_groups(model, X)}
    assert "layer1.0.conv3" not in roots and "layer1.0.downsample" not in roots
    assert any("layer3.0.bn2" in g.bn_names for g in channel_groups(model, X))
    # Force it: zero the BNs that read it, then remove two of its channels.
    with torch.no_grad():
        model.layer2[0].bn1.weight[:2] = 0
        model.layer2[0].bn1.bias[:2] = 0
        before = model(X)
        after = prune_channels(model, {"layer1.0.conv3": [0, 1]}, X)(X)
    assert float((before - after).abs().max()) > 1e-3


def test_zero_scales_of_one_bn_do_not_make_a_zero_channel() -> None:
    model = build_model("resnet8_tiny")
    stream = next(g for g in channel_groups(model, X) if "layer1.0.bn2" in g.bn_names)
    with torch.no_grad():
        model.bn1.weight[1] = 0.0  # one of the two coupled BNs only
    stream = next(g for g in channel_groups(model, X) if g.root == stream.root)
    assert not bool(stream.zero.any())
    with torch.no_grad():
        model.layer1[0].bn2.weight[1] = 0.0
    stream = next(g for g in channel_groups(model, X) if g.root == stream.root)
    assert stream.zero.tolist() == [False, True, False, False]


def test_tracing_keeps_flags_and_running_stats() -> None:
    model = build_model("resnet8_tiny").train()
    stats = {k: v.clone() for k, v in model.state_dict().items()}
    groups = channel_groups(model, X)
    assert model.training and all(m.training for m in model.modules())
    assert all(torch.equal(stats[k], v) for k, v in model.state_dict().items())
    removal = {groups[0].root: [0]}
    prune_channels(model, removal, X)
    assert all(m.training for m in model.modules())


def test_channels_per_layer_before_and_after() -> None:
    model = randomize_bn(build_model("vgg_tiny"))
    assert channels_per_layer(model) == {"features.1": 8, "features.5": 16, "features.9": 32}
    out = mask_and_prune(model, X)
    assert channels_per_layer(out["model"]) == {"features.1": 6, "features.5": 12, "features.9": 23}


def test_option_a_is_refused_with_a_hint_and_converts_exactly() -> None:
    model = randomize_bn(build_model("resnet8a_tiny")).eval()
    with pytest.raises(ValueError, match="shortcut_a_to_b") as err:
        channel_groups(model, X)
    assert "\n" not in str(err.value)
    with pytest.raises(ValueError, match="option-A"):
        prune_channels(model, {"conv1": [0]}, X)
    converted = shortcut_a_to_b(model)
    with torch.no_grad():
        assert torch.allclose(model(X), converted(X), atol=1e-5)
    out = mask_and_prune(converted, X)
    assert out["diff"] <= 1e-5 and out["params"][1] < out["params"][0]
    groups = channel_groups(out["model"], X)
    assert groups, "the converted model has prunable groups"
    # The recorded edit does the same conversion.
    handle = SlimModel.build("resnet8a_tiny", num_classes=10, input_size=(3, 32, 32))
    handle.apply_edit("shortcut_a_to_b")
    assert handle.module.shortcut == "B" and handle.edits == [
        {"kind": "shortcut_a_to_b", "params": {}}
    ]


def test_bad_removals_are_one_line_errors() -> None:
    model = build_model("resnet8_tiny")
    groups = channel_groups(model, X)
    stream = next(g for g in groups if "layer1.0.bn2" in g.bn_names)
    cases = [
        ({"layer1.0.conv9": [0]}, "did you mean"),
        ({stream.root: [7]}, "outside"),
        ({stream.root: [0, 1, 2, 3]}, "removes all"),
        ({stream.root: [0], "layer1.0.conv2": [1]}, "coupled"),
    ]
    for removal, message in cases:
        with pytest.raises(ValueError, match=message) as err:
            prune_channels(build_model("resnet8_tiny"), removal, X)
        assert "\n" not in str(err.value)
    with pytest.raises(ValueError, match="not a BN-prunable group root"):
        mask_channels(model, {"fc": [0]}, groups=groups)
    mask_channels(model, {stream.root: [0]})  # uses the groups cached by channel_groups
    assert (
        model.bn1.weight.detach()[0].item() == 0.0
        and model.layer1[0].bn2.bias.detach()[0].item() == 0.0
    )
    with pytest.raises(ValueError, match="groups= or example_input="):
        mask_channels(build_model("resnet8_tiny"), {stream.root: [0]})
    prune_channels(model, {stream.root: [0]}, X)
    with pytest.raises(ValueError, match="groups= or example_input="):
        mask_channels(model, {stream.root: [0]})  # the layers changed: the cache is stale
