from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from torch import nn

from slimkit.measure import export_onnx, measure_latency, measure_model
from slimkit.measure.latency import _median_ms

SIZE = (3, 16, 16)
FAST = {"warmup": 1, "repeats": 3}


def _assert_timings(lat: dict[str, float], keys: list[str]) -> None:
    assert list(lat) == keys
    assert all(math.isfinite(v) and v > 0 for v in lat.values())


def test_all_keys_positive_and_state_restored(tiny_net: nn.Module) -> None:
    tiny_net.train()
    prev = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        lat = measure_latency(tiny_net, SIZE, batch_sizes=(1, 32), threads=2, **FAST)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(prev)
    _assert_timings(lat, ["torch_bs1", "torch_bs32", "ort_bs1", "ort_bs32"])
    assert tiny_net.training and all(m.training for m in tiny_net.modules())


def test_channels_last_and_existing_onnx(tiny_net: nn.Module, tmp_path: Path) -> None:
    net = tiny_net.to(memory_format=torch.channels_last)
    path = export_onnx(net, tmp_path / "net.onnx", SIZE).path
    lat = measure_latency(net, SIZE, batch_sizes=(2, 3), onnx_path=path, runtimes=("ort",), **FAST)
    _assert_timings(lat, ["ort_bs2", "ort_bs3"])
    lat = measure_latency(net, SIZE, batch_sizes=(2,), runtimes=["torch"], **FAST)
    _assert_timings(lat, ["torch_bs2"])


def test_fixed_batch_onnx_is_rejected(tiny_net: nn.Module, tmp_path: Path) -> None:
    path = export_onnx(
        tiny_net, tmp_path / "b1.onnx", SIZE, dynamic_batch=False, check_batch=1
    ).path
    with pytest.raises(ValueError, match="onnx_path.*fixed batch of 1"):
        measure_latency(tiny_net, SIZE, onnx_path=path, runtimes=("ort",), **FAST)


def test_bad_arguments(tiny_net: nn.Module, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="did you mean 'ort'"):
        measure_latency(tiny_net, SIZE, runtimes=("torch", "onnx"))
    with pytest.raises(ValueError, match="did you mean 'torch'"):
        measure_latency(tiny_net, SIZE, runtimes=("trch",))
    with pytest.raises(ValueError, match="threads"):
        measure_latency(tiny_net, SIZE, threads=0)
    with pytest.raises(ValueError, match="batch_sizes"):
        measure_latency(tiny_net, SIZE, batch_sizes=(1, -2))
    with pytest.raises(ValueError, match="onnx_path"):
        measure_latency(tiny_net, SIZE, onnx_path=tmp_path / "missing.onnx")


def test_budget_stops_repeats_early() -> None:
    calls: list[int] = []
    ms = _median_ms(lambda: calls.append(1), warmup=2, repeats=50, budget_s=1e-12)
    assert len(calls) == 2 + 3 and ms > 0
    calls.clear()
    _median_ms(lambda: calls.append(1), warmup=2, repeats=50, budget_s=None)
    assert len(calls) == 52


def test_measure_model(tiny_net: nn.Module) -> None:
    out = measure_model(tiny_net, SIZE, latency=False)
    assert set(out) == {"params", "macs"} and out["params"] > 0 and out["macs"] > 0
    out = measure_model(tiny_net, SIZE, batch_sizes=(1,), runtimes=("torch", "ort"), **FAST)
    _assert_timings(out["latency_ms"], ["torch_bs1", "ort_bs1"])


def test_paired_latency_orders_models_and_rejects_bad_input(tmp_path: Path) -> None:
    from slimkit.measure import paired_ort_latency

    small = export_onnx(nn.Conv2d(3, 8, 3), tmp_path / "small.onnx", (3, 32, 32)).path
    big = export_onnx(nn.Conv2d(3, 128, 3), tmp_path / "big.onnx", (3, 32, 32)).path
    small_ms, big_ms = paired_ort_latency(
        [small, big], (3, 32, 32), batch_size=8, threads=1, rounds=3
    )
    # 16x the MACs and output bytes: measured ratio about 0.1 on 2 cores
    assert 0 < small_ms < 0.6 * big_ms, (small_ms, big_ms)
    with pytest.raises(ValueError, match="onnx_paths: no such file"):
        paired_ort_latency([small, tmp_path / "missing.onnx"], (3, 32, 32))
    with pytest.raises(ValueError, match="onnx_paths: expected at least one"):
        paired_ort_latency([], (3, 32, 32))
    fixed = export_onnx(nn.Conv2d(3, 8, 3), tmp_path / "fixed.onnx", (3, 32, 32),
                        dynamic_batch=False, check_batch=1).path  # fmt: skip
    with pytest.raises(ValueError, match="fixed batch of 1"):
        paired_ort_latency([fixed], (3, 32, 32), batch_size=4)
