"""The surgery contract on every torchvision classification model and 15 timm CNN families:
removal of zero-scale channels is exact (<= 1e-5 relative to the masked model, ONNX parity,
artifact reload), or surgery refuses in one line. Never a silent change.

``benchmarks/surgery_contract.py`` runs the same check and writes the per-model table that the
README cites; this test asserts it (slow: about N minutes on 2 cores, see MODELS below).
"""

from __future__ import annotations

import pytest

from slimkit.surgery.contract import check_surgery, contract_models

MODELS = contract_models()


@pytest.mark.slow
@pytest.mark.parametrize("name", MODELS)
def test_surgery_is_exact_or_refuses(name: str) -> None:
    result = check_surgery(name)
    assert result.outcome in {"exact", "refused", "no groups"}, result.reason
    if result.outcome == "refused":
        assert "\n" not in result.reason and result.reason
    if result.outcome == "exact":
        assert result.reload_equal is True
