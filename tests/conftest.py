"""Suite-wide settings (a small, fixed thread count) and the materialized CIFAR-10 fixture."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

torch.set_num_threads(min(2, os.cpu_count() or 1))

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
MATERIALIZE = SHARED / "data" / "materialize.py"


def _materialize(out: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(MATERIALIZE), str(out), "--only", "cifar10"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if proc.returncode != 0:
        pytest.fail(f"{MATERIALIZE} failed: {proc.stderr.strip() or proc.stdout.strip()}")


@pytest.fixture(scope="session")
def cifar10_root() -> str:
    """Directory holding ``cifar10/train.npz`` and ``cifar10/test.npz`` (materialize.py's layout).

    ``$SLIMKIT_DATA`` wins (materialized into if it lacks CIFAR-10 and the script is available);
    otherwise ``../shared/data/materialize.py`` writes into ``<repo>/.cache/data`` once.
    """
    env = os.environ.get("SLIMKIT_DATA")
    out = Path(env) if env else REPO / ".cache" / "data"
    if (out / "cifar10" / "train.npz").is_file() and (out / "cifar10" / "test.npz").is_file():
        return str(out)
    if not MATERIALIZE.is_file():
        where = f"SLIMKIT_DATA={env} has no cifar10/train.npz" if env else "SLIMKIT_DATA is unset"
        pytest.skip(f"CIFAR-10 unavailable: {where} and {MATERIALIZE} does not exist")
    _materialize(out)
    return str(out)
