"""Selection rules: exact zeros, the global |gamma| percentile, a MAC budget; the layer guard."""

from __future__ import annotations

import copy
import math

import pytest
import torch

from slimkit.measure import count_macs
from slimkit.models import build_model
from slimkit.surgery import channel_groups, prune_channels, select_channels

X = torch.randn(2, 3, 32, 32)


def _vgg_with_gammas() -> tuple[torch.nn.Module, list]:
    """vgg_tiny (8, 16, 32 channels) with gammas 1..8, 1..16, 1..32 divided by the width."""
    model = build_model("vgg_tiny")
    with torch.no_grad():
        for bn in (model.features[1], model.features[5], model.features[9]):
            n = bn.num_features
            bn.weight.copy_(-torch.arange(1, n + 1) / n)  # negative: importance uses |gamma|
    return model, channel_groups(model, X)


def test_zeros_rule_takes_exactly_the_all_zero_channels() -> None:
    model = build_model("resnet8_tiny")
    with torch.no_grad():
        model.layer1[0].bn1.weight[[0, 2]] = 0.0  # block-internal group, one BN
        model.bn1.weight[1] = 0.0  # stream group: only one of its two BNs
        model.bn1.weight[3] = 0.0
        model.layer1[0].bn2.weight[3] = 0.0  # ... and here both
    groups = channel_groups(model, X)
    stream = next(g for g in groups if "layer1.0.bn2" in g.bn_names).root
    internal = next(g for g in groups if g.bn_names == ["layer1.0.bn1"]).root
    assert select_channels(groups, "zeros") == {internal: [0, 2], stream: [3]}


def test_zeros_rule_guard_keeps_one_channel() -> None:
    model = build_model("vgg_tiny")
    with torch.no_grad():
        model.features[1].weight.zero_()
    removal = select_channels(channel_groups(model, X), "zeros")
    assert len(removal["features.0"]) == 7
    removal = select_channels(channel_groups(model, X), "zeros", min_fraction=0.5)
    assert len(removal["features.0"]) == 4


@pytest.mark.parametrize("percent", [0.0, 0.3, 0.5, 0.72])
def test_threshold_rule_counts(percent: float) -> None:
    _, groups = _vgg_with_gammas()
    removal = select_channels(groups, "threshold", percent=percent)
    importance = torch.cat([g.importance for g in groups])
    thr = torch.sort(importance).values[math.floor(56 * percent)]
    assert sum(len(v) for v in removal.values()) == int((importance <= thr).sum())
    # Closed form: importances are k/n; each layer loses the channels with k/n <= thr.
    for g in groups:
        expected = [i for i in range(g.size) if (i + 1) / g.size <= float(thr)]
        assert removal.get(g.root, []) == expected


def test_threshold_guard_never_empties_a_layer() -> None:
    model = build_model("vgg_tiny")
    with torch.no_grad():
        model.features[1].weight.fill_(1e-3)  # a whole layer below every other gamma
    groups = channel_groups(model, X)
    removal = select_channels(groups, "threshold", percent=0.2)  # 11 of 56 channels
    assert len(removal["features.0"]) == 7  # 8 candidates, one kept
    removal = select_channels(groups, "threshold", percent=0.2, min_channels=3)
    assert len(removal["features.0"]) == 5
    removal = select_channels(groups, "threshold", percent=0.9, min_fraction=0.25)
    sizes = {g.root: g.size for g in groups}
    for root, idxs in removal.items():
        assert sizes[root] - len(idxs) == math.ceil(0.25 * sizes[root])
    pruned = prune_channels(model, removal, X)
    assert pruned(X).shape == (2, 10)


@pytest.mark.parametrize(
    ("name", "target", "tolerance"),
    [("resnet20", 0.5, 0.01), ("resnet20", 0.3, 0.01), ("vgg_tiny", 0.5, 0.05)],
)
def test_macs_rule_reaches_target(name: str, target: float, tolerance: float) -> None:
    """resnet20 has fine granularity (one channel is < 1 % of MACs); vgg_tiny's 56 channels
    are coarse, so only minimality is tight there."""
    model = build_model(name).eval()
    with torch.no_grad():
        gen = torch.Generator().manual_seed(0)
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.copy_(torch.rand(m.num_features, generator=gen))
    groups = channel_groups(model, X)
    initial = count_macs(model, (3, 32, 32))
    removal = select_channels(groups, "macs", macs_target=target, model=model, example_input=X)
    assert count_macs(model, (3, 32, 32)) == initial  # the model itself is untouched
    # Minimal: keeping the most important removed channel would miss the target.
    importance = {g.root: g.importance for g in groups}
    last_root, last = max(
        ((root, c) for root, idxs in removal.items() for c in idxs),
        key=lambda rc: float(importance[rc[0]][rc[1]]),
    )
    fewer = {
        root: [c for c in idxs if (root, c) != (last_root, last)] for root, idxs in removal.items()
    }
    fewer = {root: idxs for root, idxs in fewer.items() if idxs}
    above = count_macs(prune_channels(copy.deepcopy(model), fewer, X), (3, 32, 32)) / initial
    fraction = count_macs(prune_channels(model, removal, X), (3, 32, 32)) / initial
    assert fraction <= target < above
    assert fraction >= target - tolerance


def test_macs_rule_unreachable_target_is_a_clear_error() -> None:
    model = build_model("vgg_tiny")
    groups = channel_groups(model, X)
    with pytest.raises(ValueError, match="unreachable"):
        select_channels(
            groups, "macs", macs_target=0.05, min_fraction=0.5, model=model, example_input=X
        )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"rule": "threshhold", "percent": 0.5}, "did you mean 'threshold'"),
        ({"rule": "threshold"}, "percent=None"),
        ({"rule": "threshold", "percent": 1.0}, "0 <= p < 1"),
        ({"rule": "zeros", "percent": 0.5}, "only used by rule 'threshold'"),
        ({"rule": "macs", "macs_target": 0.5}, "needs model= and example_input="),
        ({"rule": "macs", "macs_target": 1.5}, "0 < t <= 1"),
        ({"rule": "zeros", "min_channels": 0}, "min_channels=0"),
        ({"rule": "zeros", "min_fraction": 2.0}, "min_fraction=2.0"),
        ({"rule": "zeros", "round_to": 0}, "round_to=0"),
        ({"rule": "zeros", "round_to": 2.5}, "round_to=2.5"),
    ],
)
def test_bad_arguments(kwargs: dict, message: str) -> None:
    _, groups = _vgg_with_gammas()
    with pytest.raises(ValueError, match=message) as err:
        select_channels(groups, **kwargs)
    assert "\n" not in str(err.value)


def _kept(groups: list, removal: dict[str, list[int]]) -> dict[str, int]:
    return {g.root: g.size - len(removal.get(g.root, [])) for g in groups}


@pytest.mark.parametrize("round_to", [1, 4, 8, 16])
@pytest.mark.parametrize("rule", ["zeros", "threshold", "macs"])
def test_round_to_keeps_multiples(rule: str, round_to: int) -> None:
    """Every group keeps a multiple of round_to (or all its channels); rounding only ever keeps
    more than the unrounded rule, and what goes is still the least important."""
    torch.manual_seed(0)
    model = build_model("resnet20").eval()
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.copy_(torch.rand(m.num_features))
                m.weight[torch.rand(m.num_features) < 0.6] = 0.0  # zeros for rule "zeros"
    groups = channel_groups(model, X)
    kwargs = {"zeros": {}, "threshold": {"percent": 0.6}, "macs": {"macs_target": 0.5}}[rule]
    extra = {"model": model, "example_input": X} if rule == "macs" else {}
    rounded = select_channels(groups, rule, round_to=round_to, **kwargs, **extra)
    kept = _kept(groups, rounded)
    for g in groups:
        assert kept[g.root] == g.size or kept[g.root] % round_to == 0, (g.root, kept[g.root])
        assert kept[g.root] >= 1
        gone = rounded.get(g.root, [])
        stay = sorted(set(range(g.size)) - set(gone))
        if gone:
            assert float(g.importance[gone].max()) <= float(g.importance[stay].min())
    if rule != "macs":
        plain = _kept(groups, select_channels(groups, rule, **kwargs))
        assert all(kept[r] >= plain[r] for r in kept)
        assert all(kept[r] - plain[r] < round_to for r in kept)
    else:
        fraction = count_macs(prune_channels(copy.deepcopy(model), rounded, X), (3, 32, 32))
        assert fraction <= 0.5 * count_macs(model, (3, 32, 32))
    if round_to > 1 and rule == "zeros":
        assert _kept(groups, rounded) != _kept(groups, select_channels(groups, rule))


def test_round_to_zeros_is_still_exact() -> None:
    """Rounding up keeps some zero channels; removing the rest changes no output."""
    torch.manual_seed(1)
    model = build_model("resnet20").eval()
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                zero = torch.rand(m.num_features) < 0.7
                m.weight[zero] = 0.0
                m.bias[zero] = 0.0
    removal = select_channels(channel_groups(model, X), "zeros", round_to=8)
    assert removal
    expected = model(X)
    pruned = prune_channels(copy.deepcopy(model), removal, X)
    assert torch.allclose(pruned(X), expected, atol=1e-5)
    assert all(
        c % 8 == 0 or c == 3
        for m in pruned.modules()
        if isinstance(m, torch.nn.Conv2d)
        for c in (m.in_channels, m.out_channels)
    )
