"""The central registry and the built-in catalog: lazy entries, metadata that matches the code."""

from __future__ import annotations

import importlib.util
import inspect

import pytest
import torch

from slimkit.config import Config
from slimkit.registry import (
    DATASETS,
    EDITS,
    MODELS,
    PENALTIES,
    STAGES,
    TASKS,
    TERMS,
    Registry,
    Spec,
)

ONE_PART = {"model": MODELS, "dataset": DATASETS, "penalty": PENALTIES, "edit": EDITS}
SPECS = {"stage": STAGES, "term": TERMS, "task": TASKS}


def _refs() -> list[tuple[str, str, str]]:
    out = []
    for what, reg in ONE_PART.items():
        for name in reg.ordered():
            ref = reg.ref(name)
            if ref is not None:
                out.append((what, name, ref))
    for what, reg in SPECS.items():
        for name in reg.ordered():
            for part, ref in reg.get(name).refs().items():
                out.append((f"{what}.{part}", name, ref))
    return out


@pytest.mark.parametrize(("what", "name", "ref"), _refs(), ids=lambda v: str(v))
def test_every_declared_reference_resolves(what: str, name: str, ref: str) -> None:
    module = ref.partition(":")[0]
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"{module} is not written yet")
    if what in ONE_PART:
        assert callable(ONE_PART[what].get(name))
        return
    kind, part = what.split(".")
    value = getattr(SPECS[kind].get(name), part)
    if part == "config":
        assert issubclass(value, Config)
        field = "kind" if kind == "stage" else "name"
        assert value.model_fields[field].default in (name, None), (name, value)
    else:
        assert callable(value)


@pytest.mark.parametrize("name", PENALTIES.names())
def test_penalty_metadata_matches_the_implementation(name: str) -> None:
    meta = PENALTIES.meta(name)
    ctor = PENALTIES.get(name)
    params = inspect.signature(ctor).parameters
    assert tuple(meta["args"]) == tuple(params)
    required = tuple(k for k, p in params.items() if p.default is inspect.Parameter.empty)
    assert tuple(meta["required"]) == required
    pen = ctor(**{k: 0.5 for k in required})
    x = torch.randn(4, 3)
    try:
        pen.subgradient(x)
        has_subgradient = True
    except NotImplementedError:
        has_subgradient = False
    assert meta["subgradient"] is has_subgradient
    assert pen.prox(x, 0.1).shape == x.shape
    try:
        pen.prox(torch.randn(5), 0.1)  # a vector has no rows: group penalties refuse it
        kind = "elementwise"
    except ValueError:
        kind = "group"
    assert meta["kind"] == kind


def test_list_models_imports_no_model_module() -> None:
    from slimkit.models import list_models

    models = list_models()
    assert list(models)[:2] == ["resnet20", "resnet32"]
    assert all(models.values())


def test_lazy_entry_is_imported_once_and_cached() -> None:
    reg: Registry = Registry("thing")
    reg.declare("j", "json:dumps", note="x")
    assert reg.ref("j") == "json:dumps" and "j" in reg and reg.meta("j") == {"note": "x"}
    first = reg.get("j")
    assert reg.ref("j") is None and reg.get("j") is first
    reg.declare("j", "json:dumps")  # same reference again: no error
    with pytest.raises(ValueError, match="thing 'j' is registered twice"):
        reg.declare("j", "json:loads")
    with pytest.raises(ValueError, match="unknown thing 'k'"):
        reg.get("k")
    reg.declare("bad", "no_such_module_xyz:f")
    with pytest.raises(ImportError, match="no_such_module_xyz:f"):
        reg.get("bad")


def test_eager_registration_from_the_declared_module_is_accepted() -> None:
    reg: Registry = Registry("thing")
    reg.declare("dumps", "json:dumps")
    import json

    reg.register("dumps")(json.dumps)  # e.g. a builder module still using its decorator
    assert reg.get("dumps") is json.dumps
    with pytest.raises(ValueError, match="registered twice"):
        reg.register("dumps")(len)


def test_spec_parts_resolve_separately() -> None:
    reg: Registry = Registry("stage kind", parts=("config", "run"))
    reg.declare("x", config="fractions:Fraction", run="no_such_module_xyz:run", doc="demo")
    spec = reg.get("x")
    assert isinstance(spec, Spec) and spec.doc == "demo"
    assert spec.config.__name__ == "Fraction"  # the heavy part is not imported for this
    with pytest.raises(ImportError):
        _ = spec.run
    with pytest.raises(ValueError, match="missing part 'run'"):
        reg.declare("y", config="fractions:Fraction")
