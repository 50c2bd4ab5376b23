"""Timing on the host's free cores: candidates of the host board timed where no foreign process
competes with them.

A candidate that runs on every core of a host where another process keeps one core busy waits,
at every parallel loop, for the thread that shares that core: its time then measures the other
process more than the candidate, and the search ranks candidates by noise (tuned that way,
MobileNetV2 ran 1.9x slower than from quiet records; docs/performance.md). Before each batch the
runner below reads which CPUs foreign processes kept busy over a short window (/proc/stat, while
edgetune itself sleeps) and times the batch on the CPUs left free, one pinned TVM thread each
(TVM's own single thread would sit on CPU 0, busy or not). Every time is then scaled by used /
all threads (ideal speedup), so that records timed on fewer threads stay comparable with the
rest. The rule sets still require the board's full thread count of every kernel (ThreadSplit),
so what is ranked on fewer threads is each thread's share of the same parallel work.
"""

from __future__ import annotations

import functools
import sys
import time
from pathlib import Path

from tvm.ir.utils import derived_object

from ..tvm_api import ms

PROC_STAT = Path("/proc/stat")
WINDOW_S = 0.1
IDLE_FIELDS = (3, 4)  # idle, iowait (of user nice system idle iowait irq softirq steal ...)


def _cpu_jiffies(stat: Path) -> dict[int, tuple[int, int]]:
    """(busy, total) jiffies so far of each CPU (by id), from the cpuN lines of /proc/stat."""
    jiffies = {}
    for line in stat.read_text().splitlines():
        name, *values = line.split()
        if name.startswith("cpu") and name[3:].isdigit():
            fields = [int(x) for x in values[:8]]
            idle = sum(fields[i] for i in IDLE_FIELDS)
            jiffies[int(name[3:])] = (sum(fields) - idle, sum(fields))
    return jiffies


def cpu_busy(window_s: float = WINDOW_S, stat: Path = PROC_STAT) -> dict[int, float]:
    """Each CPU's busy share during a `window_s` sleep of this process: what other processes
    take (empty where /proc/stat cannot be read)."""
    try:
        before = _cpu_jiffies(stat)
        time.sleep(window_s)
        after = _cpu_jiffies(stat)
    except (OSError, ValueError, IndexError):
        return {}
    busy = {}
    for cpu, (busy1, total1) in after.items():
        busy0, total0 = before.get(cpu, (busy1, total1))
        busy[cpu] = (busy1 - busy0) / (total1 - total0) if total1 > total0 else 0.0
    return busy


def free_cpus(busy: dict[int, float], cores: int) -> tuple[int, ...] | None:
    """The CPUs to time on: those at most half busy (at least the least busy one); None when
    all `cores` are free (time as the board runs, on TVM's default threads)."""
    free = tuple(sorted(c for c, b in busy.items() if b <= 0.5))
    if len(free) >= cores or not busy:
        return None
    return free or (min(busy, key=busy.__getitem__),)


def timed_on_cpus(cpus: tuple[int, ...], rt_mod, device, evaluator_config, repeated_args):
    """MetaSchedule's evaluator, run by TVM's thread pool with one thread pinned to each of
    `cpus` (in the runner's worker process: pinned, no thread can land on a busy core)."""
    import tvm

    if tvm.get_global_func("runtime.NumThreads")() != len(cpus):
        tvm.get_global_func("runtime.config_threadpool")(-2, len(cpus), [str(c) for c in cpus])
    evaluate = ms.runner.utils.run_evaluator_common
    return evaluate(rt_mod, device, evaluator_config, repeated_args)


@derived_object
class ScaledFuture(ms.runner.PyRunnerFuture):
    """A measurement whose times are multiplied by `factor` on completion."""

    def __init__(self, inner, factor: float) -> None:
        super().__init__()
        self.inner = inner
        self.factor = factor

    def done(self) -> bool:
        return self.inner.done()

    def result(self) -> ms.runner.RunnerResult:
        result = self.inner.result()
        if result.error_msg or not result.run_secs:
            return result
        secs = [float(s) * self.factor for s in result.run_secs]
        return ms.runner.RunnerResult(run_secs=secs, error_msg=None)


@derived_object
class FreeCoresRunner(ms.runner.PyRunner):
    """The host board's runner: each batch timed on the cores other processes left free.

    One LocalRunner (one worker process) per set of CPUs used so far (None: all, unpinned);
    `reduced` counts the candidates timed on fewer threads than the board has.
    """

    def __init__(self, cores: int, timeout_sec: float, evaluator_config) -> None:
        super().__init__()
        self.cores = cores
        self.timeout_sec = timeout_sec
        self.evaluator_config = evaluator_config
        self.runners: dict[tuple[int, ...] | None, object] = {}
        self.reduced = 0
        self.cpus: tuple[int, ...] | None = None  # of the latest batch

    def _runner(self, cpus: tuple[int, ...] | None):
        if cpus not in self.runners:
            evaluator = functools.partial(timed_on_cpus, cpus) if cpus else None
            self.runners[cpus] = ms.runner.LocalRunner(
                timeout_sec=self.timeout_sec,
                evaluator_config=self.evaluator_config,
                f_run_evaluator=evaluator,
            )
        return self.runners[cpus]

    def run(self, runner_inputs) -> list:
        busy = cpu_busy()
        cpus = free_cpus(busy, self.cores)
        if cpus != self.cpus:
            self._announce(cpus, sum(busy.values()))
        futures = self._runner(cpus).run(runner_inputs)
        if cpus is None:
            return futures
        self.reduced += len(runner_inputs)
        return [ScaledFuture(f, len(cpus) / self.cores) for f in futures]

    def _announce(self, cpus: tuple[int, ...] | None, busy: float) -> None:
        """Say when timing moves to fewer threads, or back to all of them."""
        if cpus is not None:
            note = (
                f"host busy ({busy:.1f} of {self.cores} cores taken by other processes): timing "
                f"candidates on CPU {','.join(map(str, cpus))} only, their times scaled by "
                f"{len(cpus)}/{self.cores}"
            )
            print(f"edgetune: {note}", file=sys.stderr, flush=True)
        elif self.reduced:
            print(
                f"edgetune: host quiet again: timing candidates on all {self.cores} threads",
                file=sys.stderr,
                flush=True,
            )
        self.cpus = cpus
