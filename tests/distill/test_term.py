"""The ``distill`` term: frozen teacher, adapters, label-free training through the Trainer."""

from __future__ import annotations

import pytest
import torch

from slimkit.distill import DistillConfig, DistillTerm, default_feature_layers
from slimkit.distill.terms import ADAPTERS
from slimkit.engine.loop import Trainer
from slimkit.engine.optim import OptimizerConfig, ScheduleConfig
from slimkit.models import build_model


def _batches(seed: int, labels_seed: int | None = None) -> list[tuple[torch.Tensor, torch.Tensor]]:
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(32, 3, 16, 16, generator=gen)
    y = torch.randint(0, 10, (32,), generator=torch.Generator().manual_seed(labels_seed or seed))
    return [(x[i : i + 8], y[i : i + 8]) for i in range(0, 32, 8)]


def _term(model: torch.nn.Module, **kw) -> DistillTerm:
    torch.manual_seed(0)
    teacher = build_model("resnet8_tiny")
    cfg = DistillConfig(teacher={"model": {"name": "resnet8_tiny"}}, **kw)
    return DistillTerm(cfg, model, input_size=(3, 16, 16), teacher=teacher)


def test_default_layers_for_zoo_torchvision_and_plain_cnns() -> None:
    assert default_feature_layers(build_model("resnet20"), (3, 32, 32)) == [
        "layer1",
        "layer2",
        "layer3",
    ]
    tv = build_model("tv:resnet18", num_classes=10)
    assert default_feature_layers(tv, (3, 32, 32)) == ["layer1", "layer2", "layer3", "layer4"]
    vgg = default_feature_layers(build_model("vgg11", num_classes=10), (3, 32, 32))
    assert len(vgg) >= 3  # the last module at each resolution


def test_teacher_frozen_outside_the_optimizer_and_adapters_removed() -> None:
    model = build_model("resnet8_tiny")
    term = _term(model, labels=False)
    assert not term.teacher.training
    assert not any(p.requires_grad for p in term.teacher.parameters())
    trainer = Trainer(
        model, _batches(0), None, epochs=1, optimizer=OptimizerConfig(lr=0.05),
        schedule=ScheduleConfig(), terms=[term],
    )  # fmt: skip
    opt_params = {id(p) for g in trainer.optimizer.param_groups for p in g["params"]}
    assert not opt_params & {id(p) for p in term.teacher.parameters()}
    adapters = getattr(model, ADAPTERS)
    assert {id(p) for p in adapters.parameters()} <= opt_params  # adapters are trained
    before = [p.detach().clone() for p in adapters.parameters()]
    trainer.fit()
    assert not hasattr(model, ADAPTERS)  # the saved student is the plain network
    assert any(
        not torch.equal(a, b.detach()) for a, b in zip(before, adapters.parameters(), strict=True)
    )
    assert not term.teacher.training
    metrics = trainer.history[-1]
    assert metrics["labels_used"] is False and metrics["distill_fa"] > 0


@pytest.mark.parametrize("feature_loss", ["fa", "ffa"])
def test_label_free_training_never_reads_labels(feature_loss: str) -> None:
    """With labels: false, garbage labels give bit-identical weights (digest §2.10 test 9)."""
    results = []
    for labels_seed in (1, 2):
        model = build_model("resnet8_tiny")
        term = _term(model, labels=False, feature_loss=feature_loss)
        assert term.task_loss_weight == 0.0
        Trainer(
            model, _batches(0, labels_seed), None, epochs=1,
            optimizer=OptimizerConfig(lr=0.05), schedule=ScheduleConfig(), terms=[term],
        ).fit()  # fmt: skip
        results.append([p.detach().clone() for p in model.parameters()])
    assert all(torch.equal(a, b) for a, b in zip(*results, strict=True))


def test_with_labels_the_labels_matter() -> None:
    results = []
    for labels_seed in (1, 2):
        model = build_model("resnet8_tiny")
        term = _term(model, labels=True, ce_weight=0.3)
        Trainer(
            model, _batches(0, labels_seed), None, epochs=1,
            optimizer=OptimizerConfig(lr=0.05), schedule=ScheduleConfig(), terms=[term],
        ).fit()  # fmt: skip
        results.append([p.detach().clone() for p in model.parameters()])
    assert not all(torch.equal(a, b) for a, b in zip(*results, strict=True))


def test_teacher_config_needs_exactly_one_source() -> None:
    from slimkit.config import ConfigError, validate_config

    with pytest.raises(ConfigError, match="exactly one"):
        validate_config(DistillConfig, {"name": "distill", "teacher": {}})
    with pytest.raises(ConfigError, match="exactly one"):
        validate_config(
            DistillConfig, {"name": "distill", "teacher": {"stage": 0, "artifact": "x"}}
        )
