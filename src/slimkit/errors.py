"""The one-line form of an exception, for error messages that must stay on one line.

Example:
    >>> first_line(ValueError("bad value\\nmore detail"))
    'bad value'
    >>> first_line(KeyError())
    'KeyError'
"""

from __future__ import annotations

__all__ = ["first_line"]


def first_line(exc: BaseException, limit: int | None = None) -> str:
    """The first line of ``str(exc)`` (cut to ``limit`` characters), or the exception's type
    name when its message is empty."""
    text = str(exc).strip()
    if not text:
        return type(exc).__name__
    line = text.splitlines()[0]
    return line if limit is None else line[:limit]
