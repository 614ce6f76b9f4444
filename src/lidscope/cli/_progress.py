"""Rich progress bars fed by lidscope's ``progress(stage, done, total)`` callbacks: one bar per stage,
the same for every command (measure, compare, estimate, detect)."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Callable, Iterator

from rich.progress import (BarColumn, MofNCompleteColumn, Progress, ProgressColumn, SpinnerColumn, TextColumn,
                           TimeElapsedColumn, TimeRemainingColumn)
from rich.text import Text

from ._console import make_console

console = make_console(stderr=True)

#: stage -> (label, unit of the rate column or None)
STAGE_NAMES = {
    "load_model": ("load model", None),
    "load_data": ("read texts", None),
    "tokenize": ("tokenize", "seq"),
    "extract": ("forward: sequences", "seq"),
    "extract_tokens": ("forward: tokens", "tok"),
    "cloud": ("sample + dedup", None),
    "dedup": ("validate + dedup", None),
    "neighbors": ("neighbour search", None),  # reports GEMM blocks, not points
    "estimates": ("local estimates", None),
}


def average_rate(task: Any) -> float | None:
    """Items per second since the stage started: the quantity the final table reports (rich's own
    ``task.speed`` is a 30-second moving estimate, which differs from it on every run)."""
    elapsed = task.finished_time if task.finished else task.elapsed   # a finished stage's own time
    if not task.fields.get("unit") or not elapsed or not task.completed:
        return None
    return task.completed / elapsed


class _RateColumn(ProgressColumn):
    def render(self, task: Any) -> Text:
        rate = average_rate(task)
        return Text(f"{rate:,.0f} {task.fields['unit']}/s" if rate else "", style="cyan")


class StageBars:
    """Adapts ``progress(stage, done, total)`` callbacks to rich progress bars, one per stage; the
    bars start when the first stage reports (an early error prints no empty bar area)."""

    def __init__(self, bars: Progress, prefix: str = "") -> None:
        self.p = bars
        self.prefix = prefix
        self.tasks: dict[str, Any] = {}

    def __call__(self, stage: str, done: int, total: int) -> None:
        if not self.tasks:
            self.p.start()
        if stage == "load_data" and done == 0 and len(self.tasks) > 2:
            # a new measurement (compare): fresh bars, so rates and times are per run
            for k in [k for k in self.tasks if k != self.prefix + "load_model"]:
                self.p.remove_task(self.tasks.pop(k))
        key = self.prefix + stage
        if key not in self.tasks:
            base = stage.split(": ")[-1]
            name, unit = STAGE_NAMES.get(base, (base, None))
            label = (stage[: -len(base)] + name) if base != stage else name
            self.tasks[key] = self.p.add_task(self.prefix + label, total=max(total, 1), unit=unit)
        self.p.update(self.tasks[key], completed=done, total=max(total, 1))


@contextmanager
def stage_progress(enabled: bool = True, console: Any = console) -> Iterator[Callable[[str, int, int], None]]:
    """A ``progress(stage, done, total)`` callback drawing one bar per stage (nothing if not enabled)."""
    bars = Progress(SpinnerColumn(), TextColumn("[bold]{task.description:<22}"), BarColumn(),
                    MofNCompleteColumn(), _RateColumn(), TimeElapsedColumn(), TimeRemainingColumn(),
                    console=console, transient=False, disable=not enabled)
    adapter = StageBars(bars)
    try:
        yield adapter
    finally:
        if adapter.tasks:
            bars.stop()
