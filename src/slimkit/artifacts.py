"""Model artifacts: builder + structural edits + state dict; never pickled modules.

A :class:`SlimModel` is the object that flows through a recipe's stages: the ``nn.Module`` plus how
to rebuild it (the builder name and arguments) and the list of structural edits applied since
(channel removal, factorization...). :func:`save_artifact` stores those as plain data and tensors;
:func:`load_artifact` rebuilds the network, replays the edits, then loads the weights with
``torch.load(weights_only=True)``, so a file from a stranger cannot run code.

A structural edit is a function ``edit(module, **params) -> module`` registered under a name in
:data:`slimkit.registry.EDITS` (the built-in ones are declared in :mod:`slimkit.builtins`, so
loading an artifact imports only the edits it replays; :func:`register_edit` adds your own);
:meth:`SlimModel.apply_edit` runs it and records it.

Example:
    >>> import tempfile
    >>> handle = SlimModel.build("lenet5", num_classes=10, input_size=(3, 32, 32))
    >>> path = tempfile.mkdtemp() + "/model.slim.pt"
    >>> save_artifact(handle, path)
    >>> load_artifact(path).builder["name"]
    'lenet5'
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torch import nn

from slimkit import __version__
from slimkit.engine.checkpoint import UnreadableFile, atomic_save, read_torch_file
from slimkit.errors import first_line
from slimkit.models import build_model
from slimkit.registry import EDITS

ARTIFACT_FORMAT = "slimkit.artifact/1"

EditFn = Callable[..., nn.Module]


def register_edit(kind: str) -> Callable[[EditFn], EditFn]:
    """Register a structural edit ``fn(module, **params) -> module`` under ``kind``."""
    return EDITS.register(kind)


class ArtifactError(ValueError):
    """A file that is not a loadable slimkit artifact; the message is one line."""


@dataclass
class SlimModel:
    """A network plus the recipe to rebuild it: builder, structural edits and metadata."""

    module: nn.Module
    builder: dict[str, Any]
    edits: list[dict[str, Any]] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def build(
        cls,
        name: str,
        *,
        num_classes: int,
        input_size: tuple[int, int, int],
        kwargs: dict[str, Any] | None = None,
        meta: dict[str, Any] | None = None,
    ) -> SlimModel:
        """Build a registered model (zoo, ``tv:`` or ``timm:`` name)."""
        kwargs = dict(kwargs or {})
        builder = {
            "name": name,
            "num_classes": num_classes,
            "in_channels": input_size[0],
            "kwargs": kwargs,
        }
        module = build_model(name, num_classes=num_classes, in_channels=input_size[0], **kwargs)
        info = {"input_size": list(input_size), **(meta or {})}
        return cls(module=module, builder=builder, meta=info)

    @property
    def input_size(self) -> tuple[int, int, int]:
        """(C, H, W) of one input image."""
        c, h, w = self.meta["input_size"]
        return (int(c), int(h), int(w))

    def apply_edit(self, kind: str, **params: Any) -> None:
        """Run the registered edit ``kind`` on the module and record it for replay."""
        self.module = EDITS.get(kind)(self.module, **params)
        self.edits.append({"kind": kind, "params": params})


def save_artifact(handle: SlimModel, path: str | Path) -> None:
    """Write ``handle`` as an artifact file (atomically)."""
    raw = handle.module.state_dict()
    state = {k: v.detach().cpu().contiguous() for k, v in raw.items()}
    # Per-module versions (e.g. torchvision MNASNet refuses a state dict without its version).
    versions = {k: dict(v) for k, v in getattr(raw, "_metadata", {}).items()}
    atomic_save(
        {
            "format": ARTIFACT_FORMAT,
            "slimkit_version": __version__,
            "builder": handle.builder,
            "edits": handle.edits,
            "meta": handle.meta,
            "state_dict": state,
            "state_metadata": versions,
        },
        path,
    )


def load_artifact(path: str | Path) -> SlimModel:
    """Rebuild a model from an artifact file (weights only; no code runs from the file)."""
    path = Path(path)
    if not path.is_file():
        raise ArtifactError(f"artifact not found: {path}")
    try:
        data = read_torch_file(path)
    except UnreadableFile as exc:
        raise ArtifactError(f"{path}: not a slimkit artifact ({exc})") from None
    if not isinstance(data, dict) or data.get("format") != ARTIFACT_FORMAT:
        raise ArtifactError(f"{path}: not a slimkit artifact (expected format {ARTIFACT_FORMAT})")
    builder, edits, meta = _checked_parts(data, path)
    try:
        module = build_model(
            builder["name"],
            num_classes=builder["num_classes"],
            in_channels=builder["in_channels"],
            **builder["kwargs"],
        )
    except Exception as exc:  # noqa: BLE001  (any failure means the builder section is bad)
        raise ArtifactError(
            f"{path}: builder {builder['name']!r}: {first_line(exc, 200)}"
        ) from None
    handle = SlimModel(module=module, builder=builder, meta=meta)
    for index, edit in enumerate(edits):
        try:
            handle.apply_edit(edit["kind"], **edit["params"])
        except Exception as exc:  # noqa: BLE001  (a damaged or foreign edit record)
            raise ArtifactError(
                f"{path}: edits[{index}] ({edit['kind']}) cannot be replayed: {first_line(exc, 200)}"
            ) from None
    state = OrderedDict(data["state_dict"])
    state._metadata = OrderedDict(data.get("state_metadata") or {})  # type: ignore[attr-defined]
    try:
        handle.module.load_state_dict(state)
    except (RuntimeError, TypeError, AttributeError, ValueError, KeyError) as exc:
        raise ArtifactError(
            f"{path}: weights do not fit the rebuilt model ({first_line(exc, 200)})"
        ) from None
    return handle


MAX_INPUT_ELEMENTS = 2**26  # one input image of at most 64 M values (256 MB in float32)


def _checked_parts(
    data: dict[str, Any], path: Path
) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, Any]]:
    """The builder, edits and meta sections, checked for the types and ranges loading needs."""

    def bad(field: str, what: str, value: Any) -> ArtifactError:
        return ArtifactError(f"{path}: {field}: expected {what}, got {repr(value)[:80]}")

    builder = data.get("builder")
    if not isinstance(builder, dict):
        raise bad("builder", "a mapping", builder)
    if not isinstance(builder.get("name"), str) or not builder["name"]:
        raise bad("builder.name", "a model name", builder.get("name"))
    for key in ("num_classes", "in_channels"):
        value = builder.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 1_000_000:
            raise bad(f"builder.{key}", "an integer in 1..1000000", value)
    if not isinstance(builder.get("kwargs", {}), dict):
        raise bad("builder.kwargs", "a mapping", builder.get("kwargs"))
    builder.setdefault("kwargs", {})
    edits = data.get("edits", [])
    if not isinstance(edits, list):
        raise bad("edits", "a list", edits)
    for i, edit in enumerate(edits):
        if not isinstance(edit, dict) or not isinstance(edit.get("kind"), str):
            raise bad(f"edits[{i}]", "a mapping with a 'kind'", edit)
        if edit["kind"] not in EDITS:
            raise ArtifactError(
                f"{path}: edits[{i}].kind: unknown edit {edit['kind']!r} "
                f"(known: {', '.join(sorted(EDITS.names()))})"
            )
        if not isinstance(edit.get("params", {}), dict):
            raise bad(f"edits[{i}].params", "a mapping", edit.get("params"))
        edit.setdefault("params", {})
    meta = data.get("meta")
    if not isinstance(meta, dict):
        raise bad("meta", "a mapping", meta)
    size = meta.get("input_size")
    if (
        not isinstance(size, list | tuple)
        or len(size) != 3
        or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in size)
    ):
        raise bad("meta.input_size", "[C, H, W] of positive integers", size)
    if size[0] * size[1] * size[2] > MAX_INPUT_ELEMENTS:
        raise ArtifactError(
            f"{path}: meta.input_size: {list(size)} is {size[0] * size[1] * size[2]:,} values per "
            f"image, more than the {MAX_INPUT_ELEMENTS:,} slimkit accepts"
        )
    if size[0] != builder["in_channels"]:
        raise ArtifactError(
            f"{path}: meta.input_size has {size[0]} channels but builder.in_channels is "
            f"{builder['in_channels']}"
        )
    if not isinstance(data.get("state_dict"), dict):
        raise bad("state_dict", "a mapping of tensors", type(data.get("state_dict")).__name__)
    return builder, edits, dict(meta)
