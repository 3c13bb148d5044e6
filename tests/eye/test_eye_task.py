"""The eye_mix dataset and the eye_openness task: rows, losses, metrics, errors."""

from __future__ import annotations

import math

import pytest
import torch

from slimkit.data.eye_mix import REAL, SWEEP, SYNTHETIC, load_eye_mix
from slimkit.tasks.config import EyeOpennessTaskConfig
from slimkit.tasks.eye import build_eye_openness
from tests.conftest import SHARED

CEW = SHARED / "data"
needs_cew = pytest.mark.skipif(
    not (CEW / "cew_eyes" / "cew_eyes.npz").is_file(), reason="CEW eye patches unavailable"
)


@needs_cew
def test_eye_mix_rows_domains_and_sweep() -> None:
    s = load_eye_mix(root=str(CEW), synthetic=64, synthetic_test=32, sweep_identities=3,
                     sweep_levels=5)  # fmt: skip
    assert s.input_size == (1, 24, 24) and s.target_dim == 3
    train_domain = s.train.y[:, 1].long()
    assert (
        int((train_domain == SYNTHETIC).sum()) == 64 and int((train_domain == REAL).sum()) == 3888
    )
    test_domain = s.test.y[:, 1].long()
    assert int((test_domain == SWEEP).sum()) == 15 and int((test_domain == SYNTHETIC).sum()) == 32
    sweep = s.test.y[test_domain == SWEEP]
    assert sweep[:5, 0].tolist() == [0.0, 0.25, 0.5, 0.75, 1.0] and sweep[:, 2].max() == 2
    real_values = s.train.y[train_domain == REAL, 0]
    assert set(real_values.unique().tolist()) == {0.0, 1.0}
    syn = s.train.y[train_domain == SYNTHETIC, 0]
    assert float(syn.min()) >= 0.0 and float(syn.max()) <= 1.0 and len(syn.unique()) > 50
    # synthetic only / real only ablations
    only_syn = load_eye_mix(root=str(CEW), synthetic=16, synthetic_test=8, real_train=False,
                            sweep_identities=0)  # fmt: skip
    assert (only_syn.train.y[:, 1] == SYNTHETIC).all() and len(only_syn.train) == 16
    only_real = load_eye_mix(root=str(CEW), synthetic=0, synthetic_test=8, sweep_identities=0)
    assert (only_real.train.y[:, 1] == REAL).all()


def test_eye_mix_bad_options_are_one_line_errors() -> None:
    with pytest.raises(ValueError, match=r"data.kwargs.real: .*'faces'"):
        load_eye_mix(real="faces")
    with pytest.raises(ValueError, match=r"data.kwargs.synthetic: .*-3"):
        load_eye_mix(synthetic=-3)


def _rows(value: list[float], domain: list[int], identity: list[int] | None = None) -> torch.Tensor:
    ident = identity or [-1] * len(value)
    return torch.tensor([value, domain, ident], dtype=torch.float32).t()


def test_loss_parts_are_zero_when_every_constraint_holds() -> None:
    task = build_eye_openness(EyeOpennessTaskConfig(align="none", synthetic_loss="l1"))
    y = _rows([0.25, 1.0, 0.0], [SYNTHETIC, REAL, REAL])
    z = torch.logit(torch.tensor([[0.25], [0.9], [0.1]]))  # exact synthetic, open 0.9, closed 0.1
    assert float(task.loss(z, (None, y))) == pytest.approx(0.0, abs=1e-6)
    z_bad = torch.logit(torch.tensor([[0.75], [0.4], [0.3]]))
    # l1 0.5 + hinge ((0.5-0.4)^2 + (0.3-0.2)^2) / 2 = 0.01 + rank 0.5 * relu(0.2 - 0.1) = 0.05
    assert float(task.loss(z_bad, (None, y))) == pytest.approx(0.5 + 0.01 + 0.05, abs=1e-5)
    bce = build_eye_openness(EyeOpennessTaskConfig(align="none", real_loss="bce",
                                                   synthetic_weight=0.0))  # fmt: skip
    expected = torch.nn.functional.binary_cross_entropy_with_logits(
        z_bad[1:, 0], torch.tensor([1.0, 0.0])
    )
    assert float(bce.loss(z_bad, (None, y))) == pytest.approx(float(expected), abs=1e-6)


def test_alignment_reads_the_last_linear_input_and_has_gradient() -> None:
    task = build_eye_openness(EyeOpennessTaskConfig(align="coral", align_weight=10.0,
                                                    synthetic_weight=0, hinge_weight=0,
                                                    rank_weight=0))  # fmt: skip
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 6), torch.nn.Linear(6, 1))
    x = torch.cat([torch.randn(8, 1, 2, 2), 3 * torch.randn(8, 1, 2, 2) + 1])
    y = _rows([0.5] * 8 + [1.0, 0.0] * 4, [SYNTHETIC] * 8 + [REAL] * 8)
    loss, _ = task.train_step(net, (x, y))
    assert float(loss.detach()) > 0
    loss.backward()
    assert net[1].weight.grad.abs().sum() > 0 and net[2].weight.grad.abs().sum() == 0


def test_metrics_names_and_values() -> None:
    task = build_eye_openness(EyeOpennessTaskConfig(real="mrl", threshold=0.5))
    value = [0.2, 0.8, 0.0, 1.0, 1.0, 0.0, 0.5, 1.0, 0.0, 0.5, 1.0]
    domain = [SYNTHETIC] * 2 + [REAL] * 3 + [SWEEP] * 6
    ident = [-1] * 5 + [0, 0, 0, 1, 1, 1]
    y = _rows(value, domain, ident)
    pred = torch.tensor([0.3, 0.7, 0.1, 0.9, 0.45, 0.1, 0.2, 0.3, 0.3, 0.2, 0.1])
    metric = task.new_metric()
    metric.update(torch.logit(pred)[:, None], (None, y))
    m = metric.compute()
    assert task.headline == "auc_mrl"
    assert m["auc_mrl"] == 1.0 and m["acc_mrl"] == pytest.approx(2 / 3)  # 0.45 counts as closed
    assert m["mae_synthetic"] == pytest.approx(0.1, abs=1e-6) and m[
        "spearman_synthetic"
    ] == pytest.approx(1.0)
    assert m["monotonicity"] == pytest.approx(0.0)  # identity 0: +1, identity 1: -1
    assert math.isfinite(m["loss"])


def _real_metrics(task, pred: list[float], labels: list[float]) -> dict[str, float]:
    metric = task.new_metric()
    y = _rows(labels, [REAL] * len(labels))
    metric.update(torch.logit(torch.tensor(pred))[:, None], (None, y))
    return metric.compute()


def test_threshold_val_is_picked_on_validation_and_used_on_test() -> None:
    task = build_eye_openness(EyeOpennessTaskConfig(threshold="val", align="none"))
    test_pred, test_labels = [0.1, 0.2, 0.3, 0.6, 0.7], [0.0, 0.0, 1.0, 1.0, 1.0]
    before = _real_metrics(task, test_pred, test_labels)
    assert before["threshold_cew"] == 0.5 and before["acc_cew"] == pytest.approx(0.8)
    # validation: closed up to 0.2, open from 0.3 -> best cut halfway, 0.25
    task.calibrate(lambda: _real_metrics(task, [0.05, 0.2, 0.3, 0.9], [0.0, 0.0, 1.0, 1.0]))
    assert task.chosen_threshold == pytest.approx(0.25) and not task.choosing
    after = _real_metrics(task, test_pred, test_labels)
    assert after["threshold_cew"] == pytest.approx(0.25) and after["acc_cew"] == 1.0
    fixed = build_eye_openness(EyeOpennessTaskConfig(threshold=0.35))
    fixed.calibrate(lambda: pytest.fail("a fixed threshold must not evaluate the val split"))
    assert _real_metrics(fixed, test_pred, test_labels)["threshold_cew"] == 0.35


def test_threshold_val_without_a_val_split_is_one_line_error() -> None:
    from slimkit.recipes import recipe_from_dict

    recipe = {"model": {"name": "resnet8_tiny"}, "data": {"name": "eye_mix"},
              "task": {"name": "eye_openness", "threshold": "val"},
              "stages": [{"kind": "train", "epochs": 1}]}  # fmt: skip
    with pytest.raises(Exception, match="task.threshold: 'val' needs a validation split"):
        recipe_from_dict(recipe)
    recipe["data"]["val_fraction"] = 0.1
    assert recipe_from_dict(recipe).task.threshold == "val"


def test_bad_task_settings_and_targets() -> None:
    with pytest.raises(ValueError, match="t_closed"):
        build_eye_openness(EyeOpennessTaskConfig(t_closed=0.6, t_open=0.4))
    task = build_eye_openness(EyeOpennessTaskConfig())
    with pytest.raises(ValueError, match="eye_mix"):
        task.loss(torch.zeros(2, 1), (None, torch.zeros(2)))
    with pytest.raises(ValueError, match="feature_layer: the model has no module 'trunk'"):
        bad = build_eye_openness(EyeOpennessTaskConfig(feature_layer="trunk"))
        bad.train_step(torch.nn.Linear(4, 1), (torch.randn(2, 4), _rows([0, 1], [1, 1])))
