"""``metrics.jsonl``: one JSON object per logged step or epoch, appended and flushed.

Example:
    >>> import tempfile, json
    >>> path = tempfile.mkdtemp() + "/metrics.jsonl"
    >>> log = MetricsLog(path)
    >>> log.write({"event": "epoch", "epoch": 1, "test_top1": 0.9})
    >>> json.loads(open(path).read())["test_top1"]
    0.9
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any


class MetricsLog:
    """Append-only JSON-lines log; ``path=None`` (non-zero ranks) writes nothing."""

    def __init__(self, path: str | Path | None) -> None:
        self.path = Path(path) if path is not None else None

    def write(self, record: dict[str, Any]) -> None:
        """Append one record (non-finite floats become null)."""
        if self.path is None:
            return
        clean = {
            k: (None if isinstance(v, float) and not math.isfinite(v) else v)
            for k, v in record.items()
        }
        with self.path.open("a") as fh:
            fh.write(json.dumps(clean) + "\n")
