"""Atomic file writes: a reader sees the old file or the new one, never half of one.

The data goes to a temporary file beside the target, which is renamed into place; if writing
fails (full disk, killed process, bad object) the temporary file is removed and the target is
left as it was.

Example:
    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "a.txt")
    >>> _ = atomic_write_text(p, "hello")
    >>> open(p).read(), sorted(os.listdir(os.path.dirname(p)))
    ('hello', ['a.txt'])
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

__all__ = ["atomic_write", "atomic_write_text"]


def atomic_write(path: str | Path, write: Callable[[Path], object]) -> Path:
    """Call ``write(tmp)`` on a temporary path beside ``path``, then rename it to ``path``.

    The parent folder is created. On any failure the temporary file is removed and the
    exception propagates.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
