"""Read ``.npz`` files with one-line errors that name the file (and the array) when damaged.

``np.load`` on a truncated archive raises ``zipfile.BadZipFile``, ``EOFError`` or ``zlib.error``
depending on where the bytes stop, sometimes only when an array is read. :func:`open_npz` turns
every such failure into ``ValueError("root: cannot read 'FILE' ...")``.

Example:
    >>> import numpy as np, tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "a.npz")
    >>> np.savez(p, x=np.arange(3))
    >>> with open_npz(p) as z:
    ...     z["x"].tolist(), z.files
    ([0, 1, 2], ['x'])
    >>> _ = open(p, "r+b").truncate(40)
    >>> try:
    ...     open_npz(p)
    ... except ValueError as e:
    ...     print(str(e).split(" (")[0].endswith("a.npz' as .npz"))
    True
"""

from __future__ import annotations

import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from slimkit.errors import first_line

__all__ = ["NpzFile", "open_npz"]

_DAMAGE = (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error, KeyError)


class NpzFile:
    """An open ``.npz`` archive whose reads fail with one line naming the file and array."""

    def __init__(self, path: Path, archive: Any) -> None:
        self.path = path
        self._archive = archive
        self.files: list[str] = list(archive.files)

    def __getitem__(self, key: str) -> np.ndarray:
        try:
            return self._archive[key]
        except _DAMAGE as err:
            raise ValueError(
                f"root: cannot read array {key!r} of {str(self.path)!r}; the file is damaged or "
                f"truncated ({type(err).__name__}: {first_line(err)})"
            ) from None

    def __contains__(self, key: object) -> bool:
        return key in self.files

    def close(self) -> None:
        self._archive.close()

    def __enter__(self) -> NpzFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_npz(path: str | Path) -> NpzFile:
    """Open ``path`` as an ``.npz`` archive (no pickles), or raise a one-line ``ValueError``."""
    path = Path(path)
    try:
        archive = np.load(path, allow_pickle=False)
    except _DAMAGE as err:
        raise ValueError(
            f"root: cannot read {str(path)!r} as .npz ({type(err).__name__}: {first_line(err)})"
        ) from None
    if not hasattr(archive, "files"):  # a bare .npy array, not an archive
        raise ValueError(f"root: {str(path)!r} is a .npy array, not an .npz archive")
    return NpzFile(path, archive)
