"""Atomic checkpoints with everything needed to resume bit-exactly.

A checkpoint is a plain dict of tensors and primitive data written with :func:`torch.save` to a
temporary file and renamed into place, so a killed run never leaves a half-written file.
It is read back with ``weights_only=True``.

Example:
    >>> import tempfile, torch
    >>> path = tempfile.mkdtemp() + "/ck.pt"
    >>> atomic_save({"epoch": 3, "w": torch.ones(2)}, path)
    >>> load_checkpoint(path)["epoch"]
    3
"""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from slimkit.errors import first_line
from slimkit.fileio import atomic_write


def atomic_save(obj: Any, path: str | Path) -> None:
    """``torch.save`` to ``path`` through a temporary file and an atomic rename."""
    atomic_write(path, lambda tmp: torch.save(obj, tmp))


class UnreadableFile(ValueError):
    """``torch.load`` cannot read the file; the message is the reason (no file name)."""


def read_torch_file(path: Path) -> Any:
    """``torch.load(path, weights_only=True)`` on CPU, with every failure as one
    :class:`UnreadableFile` (missing, empty, not a ``torch.save`` file, truncated, refused pickle).
    """
    if not path.is_file():
        raise UnreadableFile("not found")
    with open(path, "rb") as f:
        head = f.read(4)
    if not head:
        raise UnreadableFile("the file is empty")
    # torch.save writes a zip archive (legacy format: a pickle, protocol byte 0x80)
    if not (head.startswith(b"PK") or head[:1] == b"\x80"):
        raise UnreadableFile("not a torch.save file (no zip header)")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001  (truncated zip, refused pickle, foreign format)
        raise UnreadableFile(
            f"torch.load failed: {type(exc).__name__}: {first_line(exc, 160)}"
        ) from None


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Load a checkpoint written by :func:`atomic_save` (no code execution: weights only).

    Raises:
        CheckpointError: the file is missing, truncated or not a checkpoint (one line).
    """
    path = Path(path)
    try:
        obj = read_torch_file(path)
    except UnreadableFile as exc:
        raise CheckpointError(f"{path}: damaged or not a checkpoint ({exc})") from None
    if not isinstance(obj, dict):
        raise CheckpointError(f"{path}: not a checkpoint (holds a {type(obj).__name__})")
    return obj


class CheckpointError(ValueError):
    """A checkpoint that cannot be read; the message is one line naming the file."""


def previous_path(path: str | Path) -> Path:
    """Where :func:`save_rotating` keeps the checkpoint before the latest one."""
    path = Path(path)
    return path.with_name(f"{path.stem}.prev{path.suffix}")


def save_rotating(obj: Any, path: str | Path) -> None:
    """Save ``obj`` to ``path`` and keep the checkpoint it replaces as ``previous_path(path)``.

    The new file is complete on disk before anything is renamed; a crash between the two renames
    leaves the previous checkpoint in place, which :func:`load_latest` then falls back to.
    """
    path = Path(path)

    def write(tmp: Path) -> None:
        torch.save(obj, tmp)
        if path.is_file():
            os.replace(path, previous_path(path))

    atomic_write(path, write)


def load_latest(
    path: str | Path, required: tuple[str, ...] = ()
) -> tuple[dict[str, Any], Path, str]:
    """The newest readable checkpoint among ``path`` and its previous copy.

    Args:
        path: the checkpoint written by :func:`save_rotating`.
        required: keys a usable checkpoint must hold.

    Returns:
        (checkpoint, the file it came from, "" or a one-line note of what was skipped and why).

    Raises:
        CheckpointError: neither file is usable (the message names both problems).
    """
    path = Path(path)
    problems: list[str] = []
    for candidate in (path, previous_path(path)):
        if not candidate.is_file():
            problems.append(f"{candidate}: missing")
            continue
        try:
            state = load_checkpoint(candidate)
        except CheckpointError as exc:
            problems.append(str(exc))
            continue
        missing = [k for k in required if k not in state]
        if missing:
            problems.append(f"{candidate}: lacks {', '.join(missing)}")
            continue
        return state, candidate, "; ".join(problems)
    raise CheckpointError("no usable checkpoint: " + "; ".join(problems))


def rng_state() -> dict[str, Any]:
    """Capture the global RNG states (torch CPU/CUDA, Python, NumPy)."""
    np_state = np.random.get_state()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "python": list(random.getstate()[1]) + [random.getstate()[2]],
        "python_version": random.getstate()[0],
        "numpy": [np_state[0], torch.from_numpy(np_state[1].astype(np.int64)), *np_state[2:]],
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what :func:`rng_state` captured."""
    torch.set_rng_state(state["torch"])
    py = state["python"]
    random.setstate((state["python_version"], tuple(py[:-1]), py[-1]))
    kind, keys, *rest = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), *rest))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
