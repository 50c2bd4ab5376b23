"""Timing that a busy host cannot skew much: each candidate's repeats reduced to their fastest.

Another process on the host (a build, a test run) slows some repeats of a candidate, never
speeds one up. MetaSchedule ranks candidates (database, cost model) by the mean of the repeats
a runner returns, so one burst of foreign work makes a good schedule look bad. The runner
below keeps only the fastest quarter of each candidate's repeats (at least one): their mean is
the estimate every later stage sees. Timing noise of a quiet host moves it little, bursts of
contention during a minority of the repeats do not move it at all.
"""

from __future__ import annotations

from collections.abc import Callable

from tvm.ir.utils import derived_object

from ..tvm_api import ms

KEEP_FRACTION = 0.25


def fastest(run_secs: list[float]) -> list[float]:
    """The fastest quarter of the repeats (at least one), fastest first."""
    secs = sorted(run_secs)
    return secs[: max(1, int(len(secs) * KEEP_FRACTION))]


def middle_half(run_secs: list[float]) -> list[float]:
    """The repeats without their fastest and slowest quarters (at least one), fastest first:
    their mean is a typical run, as a kernel runs inside the model, where `fastest` is a best
    case (cold int8 kernels on the host: 5-20 % apart; docs/performance.md, session 16)."""
    secs = sorted(run_secs)
    cut = int(len(secs) * KEEP_FRACTION)
    return secs[cut : len(secs) - cut]


@derived_object
class RunSecsFuture(ms.runner.PyRunnerFuture):
    """A candidate's measurement whose repeats go through `transform` on completion (errors
    pass through)."""

    def __init__(self, inner, transform: Callable[[list[float]], list[float]]) -> None:
        super().__init__()
        self.inner = inner
        self.transform = transform

    def done(self) -> bool:
        return self.inner.done()

    def result(self) -> ms.runner.RunnerResult:
        result = self.inner.result()
        if result.error_msg or not result.run_secs:
            return result
        secs = self.transform([float(s) for s in result.run_secs])
        return ms.runner.RunnerResult(run_secs=secs, error_msg=None)


@derived_object
class FastestRepeatsRunner(ms.runner.PyRunner):
    """Wraps a board's runner: same measurements, each reduced by `fastest`."""

    def __init__(self, inner) -> None:
        super().__init__()
        self.inner = inner

    def run(self, runner_inputs) -> list[RunSecsFuture]:
        return [RunSecsFuture(f, fastest) for f in self.inner.run(runner_inputs)]
