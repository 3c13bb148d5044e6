"""Run the CLI in-process and check the one-line error contract."""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass

from slimkit.cli import main


@dataclass
class Outcome:
    rc: int
    out: str
    err: str

    def one_line_error(self) -> str:
        """The single stderr line of a failed command (asserts the contract)."""
        assert self.rc != 0, f"expected a failure, got rc 0 (stdout {self.out!r})"
        assert "Traceback" not in self.err, self.err
        lines = self.err.strip().splitlines()
        assert len(lines) == 1, f"expected one line, got {len(lines)}: {self.err!r}"
        assert lines[0].startswith("slimkit: "), lines[0]
        return lines[0]


def cli(*argv: str) -> Outcome:
    """``slimkit ARGV`` in this process; any exception escaping ``main`` fails the test."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main(list(argv))
    return Outcome(rc, out.getvalue(), err.getvalue())
