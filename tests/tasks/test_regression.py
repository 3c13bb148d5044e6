"""The regression task: losses, MAE/RMSE/Spearman against closed forms, shapes, DDP gathering."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
import torch.distributed as tdist
import torch.multiprocessing as mp
from torch import nn

from slimkit.config import ConfigError, validate_config
from slimkit.engine.distributed import DistInfo
from slimkit.tasks.config import RegressionTaskConfig
from slimkit.tasks.regression import (
    RegressionTask,
    align,
    build_regression,
    rank_average,
    spearman,
)


def _metrics(task: RegressionTask, pred: torch.Tensor, target: torch.Tensor, parts: int = 1):
    m = task.new_metric()
    for p, t in zip(pred.chunk(parts), target.chunk(parts), strict=True):
        m.update(p, (None, t))
    return m.compute()


def test_spearman_closed_forms() -> None:
    x = torch.tensor([0.3, -1.0, 2.5, 7.0, 0.0, 4.2])
    assert spearman(x, x) == 1.0
    assert spearman(x.pow(3) + 5 * x, x) == pytest.approx(1.0)  # monotone transform
    assert spearman(torch.exp(x), x) == pytest.approx(1.0)
    assert spearman(-x, x) == pytest.approx(-1.0)  # reversed
    # no ties: 1 - 6 sum d^2 / (n (n^2 - 1)); ranks a = 1,2,3,4,5 vs b = 2,1,4,3,5: sum d^2 = 4
    a = torch.tensor([1.0, 2.0, 3.0, 4.0, 5.0])
    b = torch.tensor([20.0, 10.0, 40.0, 30.0, 50.0])
    assert spearman(a, b) == pytest.approx(1 - 6 * 4 / (5 * 24))
    # ties get average ranks: [1, 1, 2] -> ranks [1.5, 1.5, 3]; against [1, 2, 3]:
    # centred ranks (-0.5, -0.5, 1) and (-1, 0, 1): r = 1.5 / sqrt(1.5 * 2) = sqrt(3) / 2
    assert rank_average(torch.tensor([1.0, 1.0, 2.0])).tolist() == [1.5, 1.5, 3.0]
    assert spearman(torch.tensor([1.0, 1.0, 2.0]), torch.tensor([1.0, 2.0, 3.0])) == (
        pytest.approx(math.sqrt(3) / 2)
    )
    assert math.isnan(spearman(torch.ones(4), x[:4]))  # constant: undefined


def test_metrics_closed_forms_scalar_target() -> None:
    task = build_regression(RegressionTaskConfig(loss="mse"))
    target = torch.tensor([0.0, 1.0, 2.0, 3.0, 4.0, 5.0])
    pred = (target + torch.tensor([1.0, -1.0, 2.0, 0.0, -2.0, 0.0])).view(6, 1)  # (N, 1) head
    # errors 1, -1, 2, 0, -2, 0: MAE 6/6 = 1, MSE 10/6, RMSE sqrt(10/6)
    result = _metrics(task, pred, target, parts=3)
    assert result["mae"] == pytest.approx(1.0)
    assert result["rmse"] == pytest.approx(math.sqrt(10 / 6))
    assert result["loss"] == pytest.approx(10 / 6)
    # ranks of pred values 1, 0, 4, 3, 2, 5 -> 2, 1, 5, 4, 3, 6 vs 1..6: sum d^2 = 1+1+4+0+4+0 = 10
    assert result["spearman"] == pytest.approx(1 - 6 * 10 / (6 * 35))
    assert set(result) == {"mae", "rmse", "spearman", "loss"}
    assert task.headline == "mae" and task.higher_is_better is False


@pytest.mark.parametrize(
    ("kind", "delta", "expected"),
    [
        # errors 0.5 and 3: mse (0.25 + 9) / 2; l1 (0.5 + 3) / 2;
        # huber delta 1: 0.5 * 0.25 = 0.125 and 1 * (3 - 0.5) = 2.5; delta 2: 0.125 and 2 * (3 - 1)
        ("mse", 1.0, (0.25 + 9) / 2),
        ("l1", 1.0, 3.5 / 2),
        ("huber", 1.0, (0.125 + 2.5) / 2),
        ("huber", 2.0, (0.125 + 4.0) / 2),
    ],
)
def test_losses_match_formulas(kind: str, delta: float, expected: float) -> None:
    task = build_regression(RegressionTaskConfig(loss=kind, huber_delta=delta))
    pred = torch.tensor([[1.5], [-3.0]])
    target = torch.tensor([1.0, 0.0])
    assert float(task.loss(pred, (None, target))) == pytest.approx(expected)
    assert _metrics(task, pred, target)["loss"] == pytest.approx(expected)


def test_vector_targets_and_num_outputs() -> None:
    task = build_regression(RegressionTaskConfig())
    target = torch.tensor([[0.0, 10.0], [1.0, 20.0], [2.0, 30.0], [3.0, 40.0]])  # (N, D=2)
    pred = torch.stack([target[:, 0] + 1, -target[:, 1]], dim=1)  # dim 0 shifted, dim 1 reversed
    result = _metrics(task, pred, target, parts=2)
    # |e|: 1 each in dim 0; 20, 40, 60, 80 in dim 1 -> MAE (4 + 200) / 8
    assert result["mae"] == pytest.approx(204 / 8)
    assert result["rmse"] == pytest.approx(math.sqrt((4 + 400 + 1600 + 3600 + 6400) / 8))
    assert result["spearman"] == pytest.approx(0.0)  # mean of +1 and -1
    splits = type("S", (), {"target_dim": 2})()
    assert task.num_outputs(splits) == 2 and task.num_outputs(object()) == 1
    with pytest.raises(ValueError, match=r"do not match regression targets \(4, 2\)"):
        align(torch.zeros(4, 3), target)


def test_train_step_learns_a_line() -> None:
    torch.manual_seed(0)
    task = build_regression(RegressionTaskConfig(loss="huber", huber_delta=0.5))
    model = nn.Linear(3, 1)
    x = torch.randn(256, 3)
    y = x @ torch.tensor([1.0, -2.0, 0.5]) + 0.3  # (N,)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    for _ in range(300):
        loss, out = task.train_step(model, (x, y))
        assert out.shape == (256, 1)
        opt.zero_grad()
        loss.backward()
        opt.step()
    m = task.new_metric()
    with torch.no_grad():
        m.update(model(x), (x, y))
    result = m.compute()
    assert result["mae"] < 0.02 and result["spearman"] > 0.999
    train = task.train_metric()
    train.update(out, (x, y))
    assert "spearman" not in train.compute()  # the cheap running metric keeps no predictions


def test_config_rejects_unknown_loss() -> None:
    with pytest.raises(ConfigError):
        validate_config(RegressionTaskConfig, {"name": "regression", "loss": "l2"}, "task")
    with pytest.raises(ValueError, match="task.loss: unknown regression loss 'l2'"):
        RegressionTask(loss_kind="l2")


def _ddp_data(rank: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Rank 0: targets 0..4, predictions 5..9; rank 1: targets 5..9, predictions 0..4.

    Each rank alone is perfectly monotone (Spearman 1), so only a global ranking gives the
    expected value: every rank difference is 5, 1 - 6 * 10 * 25 / (10 * 99).
    """
    target = torch.arange(5, dtype=torch.float32) + 5 * rank
    return (target + 5 - 10 * rank).view(-1, 1), target


def _ddp_worker(rank: int, world: int, init: str, out: str) -> None:
    tdist.init_process_group("gloo", init_method=init, rank=rank, world_size=world)
    try:
        pred, target = _ddp_data(rank)
        m = build_regression(RegressionTaskConfig()).new_metric()
        m.update(pred, (None, target))
        torch.save(m.compute(DistInfo(rank=rank, world_size=world)), f"{out}/rank{rank}.pt")
    finally:
        tdist.destroy_process_group()


def test_spearman_gathers_across_ranks(tmp_path: Path) -> None:
    local = build_regression(RegressionTaskConfig()).new_metric()
    pred0, target0 = _ddp_data(0)
    local.update(pred0, (None, target0))
    assert local.compute()["spearman"] == pytest.approx(1.0)
    init = f"file://{tmp_path / 'rendezvous'}"
    mp.spawn(_ddp_worker, args=(2, init, str(tmp_path)), nprocs=2, join=True)
    for rank in range(2):
        result = torch.load(tmp_path / f"rank{rank}.pt")
        assert result["spearman"] == pytest.approx(1 - 6 * 250 / (10 * 99))
        assert result["mae"] == pytest.approx(5.0) and result["rmse"] == pytest.approx(5.0)
        assert result["loss"] == pytest.approx(25.0)
