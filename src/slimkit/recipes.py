"""Recipes: YAML files that name a model, data, runtime settings and a list of stages.

A recipe is validated strictly (an unknown key names the nearest valid one) and can be overridden
on the command line with dotted ``key=value`` pairs:

- ``data.batch_size=64``: a top-level section's field;
- ``train.epochs=1``: a field of every stage of kind ``train``;
- ``stages.0.optimizer.lr=0.05``: a field of one stage, by index;
- ``train.terms.0.lam=0.05``: list items by index anywhere in the path.

Values are parsed as YAML (``1`` is an int, ``[1, 32]`` a list, ``null`` None).

Example:
    >>> recipe = recipe_from_dict({"model": {"name": "lenet5"},
    ...                            "stages": [{"kind": "train", "epochs": 2}]},
    ...                           overrides=["train.epochs=1"])
    >>> recipe.stages[0].epochs
    1
"""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, SerializeAsAny, field_validator, model_validator

from slimkit.config import Config, ConfigError, short_repr, validate_config
from slimkit.data.config import AugmentConfig, DataConfig
from slimkit.engine.trackers import check_loggers
from slimkit.fileio import atomic_write_text
from slimkit.models.config import ModelConfig
from slimkit.registry import STAGES, TASKS, suggest
from slimkit.stages.config import StageConfig
from slimkit.target.config import TargetConfig
from slimkit.tasks.config import ClassificationTaskConfig, TaskConfig
from slimkit.yaml_strict import YamlError, load_yaml

__all__ = [
    "AugmentConfig",
    "DataConfig",
    "ModelConfig",
    "Recipe",
    "RuntimeConfig",
    "apply_override",
    "load_recipe",
    "recipe_from_dict",
    "save_recipe",
]


class RuntimeConfig(Config):
    """Where and how the run executes."""

    device: Literal["auto", "cpu", "cuda"] = "auto"
    threads: int | None = Field(None, ge=1)
    channels_last: bool = True
    flush_denormal: bool = True
    amp: bool = True
    log_every: int = Field(20, ge=1)
    quiet: bool = False
    loggers: list[str] = Field(
        default_factory=lambda: ["jsonl"],
        description="metric mirrors of metrics.jsonl: jsonl (always), tensorboard, mlflow",
    )

    @field_validator("loggers")
    @classmethod
    def _known_loggers(cls, value: list[str]) -> list[str]:
        try:
            return list(check_loggers(value))
        except ValueError as exc:
            raise ValueError(str(exc).removeprefix("runtime.loggers: ")) from None


class Recipe(Config):
    """A whole recipe."""

    name: str = "run"
    description: str = ""
    seed: int = Field(
        0, ge=0, lt=2**63, description="seeds torch, NumPy and Python (0 <= seed < 2**63)"
    )
    model: ModelConfig
    task: SerializeAsAny[TaskConfig] = Field(default_factory=ClassificationTaskConfig)
    data: DataConfig = Field(default_factory=DataConfig)
    runtime: RuntimeConfig = Field(default_factory=RuntimeConfig)
    stages: list[SerializeAsAny[StageConfig]] = Field(min_length=1)
    target: TargetConfig | None = None

    dispatch = {"stages": (STAGES, "kind"), "task": (TASKS, "name")}

    @model_validator(mode="after")
    def _val_split_where_needed(self) -> Recipe:
        carved = self.data.val_fraction is not None or self.data.val_per_class is not None
        for index, stage in enumerate(self.stages):
            if stage.needs_val_split and not carved:
                raise ValueError(
                    f"stages[{index}] ({stage.kind}) needs a validation split carved from the "
                    "training set: set data.val_fraction (e.g. 0.5, as DARTS) or "
                    "data.val_per_class"
                )
        if getattr(self.task, "threshold", None) == "val" and not carved:
            raise ValueError(
                "task.threshold: 'val' needs a validation split; set data.val_fraction"
            )
        return self

    @model_validator(mode="after")
    def _target_where_used(self) -> Recipe:
        budget = [
            i
            for i, s in enumerate(self.stages)
            if s.kind in ("prune", "factorize") and getattr(s, "rule", None) == "target"
        ]
        if budget and self.target is None:
            raise ValueError(
                f"stages[{budget[0]}] ({self.stages[budget[0]].kind}) has rule: target but the "
                "recipe has no target: section, e.g. target: {macs: 0.5}"
            )
        if self.target is not None and not budget:
            raise ValueError(
                "target: no stage uses it; set rule: target on a prune or factorize stage"
            )
        if budget and self.stages[budget[-1]].share is not None:
            raise ValueError(
                f"stages[{budget[-1]}].share: the last budget stage always reaches the target "
                "itself; remove share"
            )
        for index, stage in enumerate(self.stages):
            for t, term in enumerate(getattr(stage, "terms", []) or []):
                if getattr(term, "lam", None) != "auto":
                    continue
                if not any(i > index and self.stages[i].kind == "prune" for i in budget):
                    raise ValueError(
                        f"stages[{index}].terms[{t}].lam: 'auto' steers λ towards the share of a "
                        "later prune stage with rule: target; add one (and a target: section)"
                    )
        return self

    def to_dict(self) -> dict[str, Any]:
        """The resolved recipe as plain data (what ``recipe.yaml`` in a run directory holds)."""
        return self.model_dump(mode="json")


def load_recipe(path: str | Path, overrides: list[str] | None = None) -> Recipe:
    """Read, override and validate a recipe file.

    Args:
        path: the YAML file.
        overrides: dotted ``key=value`` strings applied before validation.

    Raises:
        ConfigError: one line naming the problem (missing file, bad YAML, bad key or value).
    """
    path = Path(path)
    if not path.is_file():
        if path.is_dir():
            raise ConfigError(f"recipe path is a directory, not a YAML file: {path}")
        raise ConfigError(f"recipe file not found: {path}")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the recipe ({exc.strerror or exc})") from None
    try:
        raw = load_yaml(data, source=str(path))
    except YamlError as exc:
        raise ConfigError(str(exc)) from None
    return recipe_from_dict(raw, overrides)


def recipe_from_dict(raw: Any, overrides: list[str] | None = None) -> Recipe:
    """Validate a recipe given as a mapping (after applying ``overrides``)."""
    if not isinstance(raw, dict):
        raise ConfigError(f"recipe: expected a mapping at the top level, got {type(raw).__name__}")
    raw = copy.deepcopy(raw)
    for item in overrides or []:
        apply_override(raw, item)
    _refuse_non_finite(raw, "")
    recipe = validate_config(Recipe, raw)
    assert isinstance(recipe, Recipe)
    return recipe


def _refuse_non_finite(node: Any, where: str) -> None:
    """No NaN or infinity anywhere, free-form ``kwargs`` included: no recipe setting means
    "infinitely many" or "undefined"."""
    if isinstance(node, float) and not math.isfinite(node):
        raise ConfigError(f"{where or 'recipe'}: expected a finite number, got {node!r}")
    if isinstance(node, dict):
        for key, value in node.items():
            _refuse_non_finite(value, f"{where}.{key}" if where else str(key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            _refuse_non_finite(value, f"{where}[{index}]")


def apply_override(raw: dict[str, Any], item: str) -> None:
    """Apply one ``dotted.key=value`` override to a raw recipe mapping in place."""
    shown = item if len(item) <= 80 else item[:77] + "..."
    key, sep, text = item.partition("=")
    if not sep or not key:
        raise ConfigError(f"override '{shown}': expected KEY=VALUE, e.g. train.epochs=1")
    try:
        value = load_yaml(text, source=f"override '{shown}'") if text else ""
    except YamlError as exc:
        if "invalid YAML" not in str(exc):
            raise ConfigError(str(exc)) from None
        value = text
    parts = key.split(".")
    head, rest = parts[0], parts[1:]
    stages = raw.get("stages") or []
    if not isinstance(stages, list):
        raise ConfigError(
            f"stages: expected a list, got {type(stages).__name__} {short_repr(stages)}"
        )
    if head in Recipe.model_fields:
        if head == "stages" and rest and rest[0].isdigit():
            index = int(rest[0])
            if index >= len(stages):
                raise ConfigError(f"override '{shown}': the recipe has {len(stages)} stages")
            targets, rest = [stages[index]], rest[1:]
        else:
            targets, rest = [raw], parts
    else:
        targets = [s for s in stages if isinstance(s, dict) and s.get("kind") == head]
        if not targets:
            kinds = sorted({str(s.get("kind")) for s in stages if isinstance(s, dict)})
            choices = list(Recipe.model_fields) + kinds
            raise ConfigError(
                f"override '{shown}': '{head}' is neither a recipe section nor a stage kind "
                f"of this recipe{suggest(head, choices)} (allowed: {', '.join(choices)})"
            )
    if not rest:
        raise ConfigError(f"override '{shown}': name a field inside '{head}'")
    for target in targets:
        node: Any = target
        for part in rest[:-1]:
            node = _child(node, part, shown)
        if isinstance(node, list):
            node[_index(node, rest[-1], shown)] = copy.deepcopy(value)
        elif isinstance(node, dict):
            node[rest[-1]] = copy.deepcopy(value)
        else:
            raise ConfigError(f"override '{shown}': '{head}' is not a section")


def _index(node: list[Any], part: str, shown: str) -> int:
    if not part.isdigit() or int(part) >= len(node):
        raise ConfigError(
            f"override '{shown}': '{part}' is not an index of a {len(node)}-item list"
        )
    return int(part)


def _child(node: Any, part: str, shown: str) -> Any:
    """Step into ``node[part]`` (creating a missing section; list items by index)."""
    if isinstance(node, list):
        return node[_index(node, part, shown)]
    child = node.get(part)
    if child is None:
        child = node[part] = {}
    if not isinstance(child, dict | list):
        raise ConfigError(f"override '{shown}': '{part}' is not a section")
    return child


def save_recipe(recipe: Recipe, path: str | Path) -> None:
    """Write the resolved recipe as YAML."""
    atomic_write_text(path, yaml.safe_dump(recipe.to_dict(), sort_keys=False))
