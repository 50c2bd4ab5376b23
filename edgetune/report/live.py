"""The tuning progress while it runs: a live view on a terminal, plain lines anywhere else."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator

from rich.console import Console, Group
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from ..search.progress import PlainProgress, Progress, duration_text, ms_text

TOP_TASKS = 8  # rows of the task table


class LiveProgress:
    """Redrawn in place (twice a second, so the clock moves): trials with ETA, the estimate and
    its last change, failures, and the tasks that weigh most with the one being tuned marked."""

    def __init__(self, title: str, console: Console):
        self.title = title
        self.progress: Progress | None = None
        self.live = Live(console=console, get_renderable=self.render, refresh_per_second=2,
                         redirect_stderr=True, redirect_stdout=False)  # fmt: skip

    def __call__(self, progress: Progress) -> None:
        self.progress = progress
        self.live.refresh()

    def render(self) -> Group | Text:
        p = self.progress
        if p is None:
            return Text(f"{self.title}: preparing the search (first batch not measured yet)")
        head = Table.grid(padding=(0, 1))
        head.add_row(
            Text(self.title, style="bold"),
            ProgressBar(total=p.budget, completed=min(p.done, p.budget), width=30),
            f"{p.done}/{p.budget} trials",
            f"{duration_text(p.elapsed_s)} elapsed",
            f"ETA {duration_text(p.eta_s)}" if p.eta_s is not None else "ETA -",
        )
        change = p.estimate_change
        est = Text(f"est. end-to-end {ms_text(p.estimated_latency_s)}")
        if change:
            est.append(f" ({change:+.1%})", style="green" if change < 0 else "red")
        failed = p.failed_builds + p.failed_runs
        est.append(f"   tasks measured {p.tasks_measured}/{len(p.task_names)}   ")
        est.append(f"failed builds {p.failed_builds}, runs {p.failed_runs}",
                   style="red" if failed else "")  # fmt: skip
        return Group(head, est, self._tasks(p))

    @staticmethod
    def _tasks(p: Progress) -> Table:
        table = Table(box=None, padding=(0, 1), header_style="bold")
        for name, justify in (("", "left"), ("task", "left"), ("weight", "right"),
                              ("trials", "right"), ("best us", "right")):  # fmt: skip
            table.add_column(name, justify=justify)  # type: ignore[arg-type]
        order = sorted(range(len(p.task_names)), key=lambda i: -(p.weights[i] * (p.best_s[i] or 0)))
        shown = order[:TOP_TASKS]
        if p.last_task is not None and p.last_task not in shown:
            shown[-1] = p.last_task
        for i in shown:
            best = p.best_s[i]
            table.add_row(">" if i == p.last_task else "", p.task_names[i], str(p.weights[i]),
                          str(p.task_trials[i]), f"{best * 1e6:.2f}" if best else "-")  # fmt: skip
        if len(p.task_names) > len(shown):
            table.add_row("", f"... {len(p.task_names) - len(shown)} more tasks", "", "", "")
        return table


@contextlib.contextmanager
def progress_display(title: str, quiet: bool = False, plain: bool = False
                     ) -> Iterator[Callable[[Progress], None]]:  # fmt: skip
    """What to call after each batch: nothing (quiet), plain lines (`plain`, or stderr is not a
    terminal), else the live view, which stays on screen when the block ends."""
    if quiet:
        yield lambda _: None
    elif plain or not sys.stderr.isatty():
        yield PlainProgress()
    else:
        live = LiveProgress(title, Console(stderr=True))
        with live.live:
            yield live
