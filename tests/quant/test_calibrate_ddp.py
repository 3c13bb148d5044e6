"""QAT calibration under DDP: every rank ends with the same activation steps, equal to one
process calibrating on the union of the ranks' batches (2 gloo processes)."""

from __future__ import annotations

from pathlib import Path

import torch
import torch.distributed as tdist
import torch.multiprocessing as mp

from slimkit.engine.distributed import DistInfo
from slimkit.models import build_model
from slimkit.quant.prepare import calibrate, prepare_qat, quant_plan
from slimkit.quant.quantizers import ActQuantizer


def quantized_model() -> torch.nn.Module:
    torch.manual_seed(0)
    model = build_model("resnet8_tiny").eval()
    return prepare_qat(model, plan=quant_plan(model, weight_bits=4, act_bits=4))


def batch(rank: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(10 + rank)
    return torch.randn(8, 3, 32, 32, generator=gen) * (1.0 + 2.0 * rank)  # different ranges


def steps(model: torch.nn.Module) -> torch.Tensor:
    return torch.stack(
        [m.step.detach().clone() for m in model.modules() if isinstance(m, ActQuantizer)]
    )


def _worker(rank: int, world: int, init: str, out: str) -> None:
    torch.set_num_threads(1)
    tdist.init_process_group("gloo", init_method=init, rank=rank, world_size=world)
    try:
        model = quantized_model()
        used = calibrate(model, [batch(rank)], torch.device("cpu"), DistInfo(rank, world))
        torch.save({"steps": steps(model), "used": used}, f"{out}/rank{rank}.pt")
    finally:
        tdist.destroy_process_group()


def test_two_ranks_calibrate_like_one_process_on_both_shards(tmp_path: Path) -> None:
    init = f"file://{tmp_path / 'init'}"
    mp.spawn(_worker, args=(2, init, str(tmp_path)), nprocs=2, join=True)
    ranks = [torch.load(tmp_path / f"rank{r}.pt") for r in range(2)]
    assert ranks[0]["used"] == ranks[1]["used"] == 2  # batches over all ranks
    torch.testing.assert_close(ranks[0]["steps"], ranks[1]["steps"], rtol=0, atol=0)
    single = quantized_model()
    calibrate(single, [batch(0), batch(1)], torch.device("cpu"))
    torch.testing.assert_close(ranks[0]["steps"], steps(single), rtol=1e-6, atol=1e-9)
    alone = quantized_model()
    calibrate(alone, [batch(0)], torch.device("cpu"))
    assert not torch.allclose(steps(alone), steps(single))  # the shards do differ
