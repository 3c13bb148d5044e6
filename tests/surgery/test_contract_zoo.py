"""The surgery contract on the torchvision classification models up to 50 M parameters and 15
timm CNN families: removal of zero-scale channels is exact (<= 1e-5 relative to the masked model,
ONNX parity, artifact reload), or surgery refuses in one line. Never a silent change.

``benchmarks/surgery_contract.py`` runs the same check on every torchvision classification model
(the 32 larger ones too: VGG, ViT-L/H, RegNetY-128GF... need up to 20 GB and half an hour, too
much for CI) and writes the per-model table that the README cites.
"""

from __future__ import annotations

import pytest

from slimkit.surgery.contract import check_surgery, contract_models

MODELS = contract_models(max_params=50e6)


@pytest.mark.slow
@pytest.mark.parametrize("name", MODELS)
def test_surgery_is_exact_or_refuses(name: str) -> None:
    result = check_surgery(name)
    assert result.outcome in {"exact", "refused", "no groups"}, result.reason
    if result.outcome == "refused":
        assert "\n" not in result.reason and result.reason
    if result.outcome == "exact":
        assert result.reload_equal is True
