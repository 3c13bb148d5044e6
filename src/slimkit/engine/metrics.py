"""``metrics.jsonl``: one JSON object per logged step or epoch, appended and flushed.

The plain file is always written. ``loggers`` adds mirrors of every record next to it (see
:mod:`slimkit.engine.trackers`): ``tensorboard`` scalars in ``RUN_DIR/tensorboard`` and, when the
package is installed, an ``mlflow`` run in ``RUN_DIR/mlruns``.

Example:
    >>> import tempfile, json
    >>> path = tempfile.mkdtemp() + "/metrics.jsonl"
    >>> log = MetricsLog(path)
    >>> log.write({"event": "epoch", "epoch": 1, "test_top1": 0.9})
    >>> json.loads(open(path).read())["test_top1"]
    0.9
    >>> log.close()
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from slimkit.engine.trackers import Tracker, make_trackers


class MetricsLog:
    """Append-only JSON-lines log; ``path=None`` (non-zero ranks) writes nothing.

    Args:
        path: The ``metrics.jsonl`` file; its directory is the run directory.
        loggers: Mirrors to add (``runtime.loggers``): ``"tensorboard"``, ``"mlflow"``;
            ``"jsonl"`` is accepted and always on. An unknown name, or ``mlflow`` without the
            package, is a one-line ``ValueError`` naming ``runtime.loggers``.
    """

    def __init__(self, path: str | Path | None, loggers: Iterable[str] = ()) -> None:
        self.path = Path(path) if path is not None else None
        self.trackers: list[Tracker] = []
        if self.path is not None:
            self.trackers = make_trackers(loggers, self.path.parent)

    def write(self, record: dict[str, Any]) -> None:
        """Append one record (non-finite floats become null) and mirror it to the trackers."""
        if self.path is None:
            return
        clean = {
            k: (None if isinstance(v, float) and not math.isfinite(v) else v)
            for k, v in record.items()
        }
        with self.path.open("a") as fh:
            fh.write(json.dumps(clean) + "\n")
        for tracker in self.trackers:
            tracker.log(record)

    def close(self) -> None:
        """Flush and close the trackers (the jsonl file is closed after every write)."""
        trackers, self.trackers = self.trackers, []
        for tracker in trackers:
            tracker.close()

    def __enter__(self) -> MetricsLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
