"""Progress bars drawn by rich: one line per phase, with its count (imported only when shown)."""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, ProgressColumn, Task, TaskID, TextColumn, TimeElapsedColumn
from rich.progress import Progress as RichProgress
from rich.text import Text


class _Count(ProgressColumn):
    """`4,210/10,000`, or `4,210` for a phase whose total is not known."""

    def render(self, task: Task) -> Text:
        if not task.fields.get("counted"):
            steps = task.fields.get("steps", task.completed)
            return Text(f"{int(steps):,}" if steps else "", style="progress.download")
        return Text(f"{int(task.completed):,}/{int(task.total or 0):,}", style="progress.download")


class Bars:
    """Progress shown as rich bars: each phase keeps its line, finished, when the next begins."""

    def __init__(self, console: Console) -> None:
        self._bars = RichProgress(
            TextColumn("{task.description}"),
            BarColumn(bar_width=20),
            _Count(),
            TimeElapsedColumn(),
            console=console,
            # A redraw of six phases costs about 4 ms: twice a second is enough to watch, and leaves the
            # CPU to the work (under 1%).
            refresh_per_second=2,
        )
        self._current: TaskID | None = None

    def phase(self, name: str, total: int | None = None) -> None:
        self._finish()
        self._current = self._bars.add_task(name, total=total, counted=total is not None)

    def advance(self, steps: int = 1) -> None:
        if self._current is not None:
            self._bars.advance(self._current, steps)

    def _finish(self) -> None:
        if self._current is None:
            return
        task = self._bars.tasks[-1]
        # A phase without a total is drawn as a full bar once it is over, still showing only the steps
        # it counted (if any).
        done = task.total if task.total is not None else max(task.completed, 1)
        self._bars.update(self._current, total=done, completed=done, steps=task.completed)
        self._current = None

    def __enter__(self) -> Bars:
        self._bars.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if exc[0] is None:
            self._finish()
        self._bars.stop()
