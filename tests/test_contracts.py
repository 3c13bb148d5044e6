"""Contract tests: every registered stage, term, task and edit, looped over the registries.

A new entry gets these for free: it must resolve, its config must be the right kind of class
with its registered name as the discriminator and a one-line error for an unknown key, and a
term must keep the hook contract (build from its ``example`` config on a tiny model, run a
training step, round-trip its state).
"""

from __future__ import annotations

import inspect

import pytest
import torch

from slimkit.config import Config, ConfigError, validate_config
from slimkit.registry import EDITS, STAGES, TASKS, TERMS


@pytest.mark.parametrize("kind", STAGES.names())
def test_stage_contract(kind: str) -> None:
    from slimkit.stages.base import StageConfig

    spec = STAGES.get(kind)
    assert issubclass(spec.config, StageConfig)
    assert spec.config.model_fields["kind"].default == kind
    assert list(inspect.signature(spec.run).parameters)[:2] == ["ctx", "cfg"]
    with pytest.raises(ConfigError, match="unknown key 'bogus'"):
        validate_config(spec.config, {"kind": kind, "bogus": 1}, "stages[0]")


@pytest.mark.parametrize("name", TASKS.names())
def test_task_contract(name: str) -> None:
    from slimkit.tasks.base import Task

    spec = TASKS.get(name)
    cfg = validate_config(spec.config, {"name": name}, "task")
    task = spec.build(cfg)
    assert isinstance(task, Task)
    assert task.name == name and task.headline
    with pytest.raises(ConfigError, match="unknown key 'bogus'"):
        validate_config(spec.config, {"name": name, "bogus": 1}, "task")


def _example(spec, name: str) -> Config:
    raw = getattr(spec.config, "example", None) or {"name": name}
    return validate_config(spec.config, raw, "terms[0]")


# a term that only applies to one model family gets that family's tiny model
_TERM_MODEL = {"darts_retrain": "darts_net_tiny", "dim_search": "vit_tiny_digits"}


@pytest.mark.parametrize("name", TERMS.names())
def test_term_contract(name: str) -> None:
    from slimkit.engine.terms import TrainingTerm
    from slimkit.models import build_model

    spec = TERMS.get(name)
    assert list(inspect.signature(spec.build).parameters)[:3] == ["cfg", "model", "ctx"]
    cfg = _example(spec, name)
    torch.manual_seed(0)
    model_name = _TERM_MODEL.get(name, "resnet8_tiny")
    model = build_model(model_name, num_classes=4)
    term = spec.build(cfg, model, None)
    assert isinstance(term, TrainingTerm)
    x, y = torch.randn(4, 3, 32, 32), torch.randint(0, 4, (4,))
    term.on_train_start(model)
    out = model(x)
    loss = torch.nn.functional.cross_entropy(out, y)
    extra = term.loss(model, (x, y), out)
    if extra is not None:
        assert extra.dim() == 0 and torch.isfinite(extra)
        loss = loss + extra
    loss.backward()
    term.before_step(model)
    torch.optim.SGD(model.parameters(), lr=0.01).step()
    term.after_step(model, 0.01)
    assert all(torch.isfinite(p).all() for p in model.parameters())
    state = term.state_dict()
    again = spec.build(cfg, build_model(model_name, num_classes=4), None)
    again.load_state_dict(state)
    assert again.state_dict().keys() == state.keys()


@pytest.mark.parametrize("kind", EDITS.names())
def test_edit_contract(kind: str) -> None:
    fn = EDITS.get(kind)
    assert callable(fn)
    assert list(inspect.signature(fn).parameters)[0] in ("module", "model")


def test_distill_refuses_tasks_it_cannot_match() -> None:
    from types import SimpleNamespace

    from slimkit.models import build_model
    from slimkit.tasks.detection import DetectionTask

    spec = TERMS.get("distill")
    cfg = _example(spec, "distill")
    ctx = SimpleNamespace(task=DetectionTask(), input_size=(3, 32, 32))
    with pytest.raises(
        ValueError, match="terms.distill: needs the classification, regression or eye_openness"
    ):
        spec.build(cfg, build_model("resnet8_tiny", num_classes=4), ctx)
    regression = SimpleNamespace(task=SimpleNamespace(name="regression"), input_size=(3, 32, 32))
    with pytest.raises(ValueError, match="terms.distill.kd: 'kl' needs class logits"):
        spec.build(cfg, build_model("resnet8_tiny", num_classes=1), regression)
