"""Progress bars with rate and ETA (rich); quiet mode shows none.

Example:
    >>> bars = ProgressBars(enabled=False)
    >>> with bars.task("epoch 1", total=10) as task:
    ...     task.advance(10, loss=0.5)
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text


class _RateColumn(ProgressColumn):
    """Items per second, e.g. ``412 img/s``."""

    def __init__(self, unit: str) -> None:
        super().__init__()
        self.unit = unit

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:,.0f} {self.unit}/s" if speed else f"- {self.unit}/s")


class ProgressTask:
    """Handle of one bar; ``advance`` moves it and updates the figures shown beside it."""

    def __init__(self, progress: Progress | None = None, task_id: int | None = None) -> None:
        self._progress = progress
        self._task_id = task_id
        self.fields: dict[str, float] = {}

    def advance(self, n: int, **fields: float) -> None:
        """Advance by ``n`` items (images) and update the shown figures."""
        self.fields.update(fields)
        if self._progress is not None and self._task_id is not None:
            info = "  ".join(f"{k} {v:.4g}" for k, v in self.fields.items())
            self._progress.update(self._task_id, advance=n, info=info)


class ProgressBars:
    """Factory of progress bars; ``enabled=False`` (quiet mode, other ranks) shows nothing."""

    def __init__(self, enabled: bool = True, console: Console | None = None) -> None:
        self.enabled = enabled
        self.console = console or Console(file=sys.stderr)

    @contextmanager
    def task(self, description: str, total: int, unit: str = "img") -> Iterator[ProgressTask]:
        """A bar over ``total`` items showing count, rate, elapsed time and ETA."""
        if not self.enabled:
            yield ProgressTask()
            return
        progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(bar_width=24),
            MofNCompleteColumn(),
            _RateColumn(unit),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
            TextColumn("{task.fields[info]}"),
            console=self.console,
        )
        with progress:
            yield ProgressTask(progress, progress.add_task(description, total=total, info=""))
