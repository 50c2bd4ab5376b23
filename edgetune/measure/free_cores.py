"""Timing on the host's free cores: candidates of the host board timed where no foreign process
competes with them.

A candidate that runs on every core of a host where another process keeps one core busy waits,
at every parallel loop, for the thread that shares that core: its time then measures the other
process more than the candidate, and the search ranks candidates by noise (tuned that way,
MobileNetV2 ran 1.9x slower than from quiet records; docs/performance.md). Before each batch the
runner below reads how busy each CPU was over a short window while edgetune slept (/proc/stat,
minus the CPU time of edgetune's own process and workers, which never counts as foreign; a
cheaper reading over the time since the previous batch, with no sleep, skips that window while
the host stays quiet, and batches too close together to tell read back to an earlier one). When
other processes took half a core or more in this check and the one before (a one-off burst moves
nothing), the batch is timed on the CPUs left free, one pinned TVM thread each (TVM's own single
thread would sit on CPU 0, busy or not). Every time is then scaled by used / all threads (ideal
speedup), so that records timed on fewer threads stay comparable with the rest. The rule sets
still require the board's full thread count of every kernel (ThreadSplit), so what is ranked on
fewer threads is each thread's share of the same parallel work. Each batch runs in the host's
timing turn (timing_turn.py): two edgetune processes never time at once.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from tvm.ir.utils import derived_object

from ..farm.arguments import alloc_arguments
from ..tvm_api import ms
from .robust import RunSecsFuture
from .timing_turn import timing_turn

PROC = Path("/proc")
WINDOW_S = 0.1
IDLE_FIELDS = (3, 4)  # idle, iowait (of user nice system idle iowait irq softirq steal ...)
STEAL_FIELD = 7
FOREIGN_MIN = 0.5  # cores other processes must take before timing leaves any CPU out
# Cores other processes may take between two batches (while edgetune searches and builds on every
# core, which squeezes a foreign load below its share in a sleeping window) before the next batch
# looks closer with a window, and jiffies per CPU that interval needs to say anything.
FOREIGN_HINT = 0.25
HINT_MIN_TICKS = 20
_pinned: tuple[int, ...] | None = None  # the CPUs this (worker) process's TVM threads are on


@dataclass(frozen=True)
class HostLoad:
    """CPU use over one window: each CPU's busy share (CPUs this process may run on) and the
    cores this process and its children (build and run workers) used themselves."""

    busy: dict[int, float]
    own: float = 0.0

    @property
    def foreign(self) -> float:
        """Cores other processes took."""
        return max(0.0, sum(self.busy.values()) - self.own)

    @property
    def loaded(self) -> bool:
        """Whether other processes took at least FOREIGN_MIN cores."""
        return self.foreign >= FOREIGN_MIN


def _cpu_fields(proc: Path) -> dict[int, list[int]]:
    """The first 8 counters (user nice system idle iowait irq softirq steal, jiffies so far) of
    each CPU (by id), from the cpuN lines of /proc/stat."""
    fields = {}
    for line in (proc / "stat").read_text(encoding="utf-8").splitlines():
        name, *values = line.split()
        if name.startswith("cpu") and name[3:].isdigit():
            fields[int(name[3:])] = [int(x) for x in values[:8]]
    return fields


def _cpu_jiffies(proc: Path) -> dict[int, tuple[int, int]]:
    """(busy, total) jiffies so far of each CPU (by id)."""
    jiffies = {}
    for cpu, fields in _cpu_fields(proc).items():
        idle = sum(fields[i] for i in IDLE_FIELDS)
        jiffies[cpu] = (sum(fields) - idle, sum(fields))
    return jiffies


@dataclass(frozen=True)
class StealClock:
    """Steal time since a start: the share of this virtual machine's CPU time the hypervisor
    spent running other guests while its CPUs had work (0 on bare metal). A benchmark run with a
    large share was timed on a contended host: its spread, not its code, moved its numbers."""

    steal: int
    total: int

    @staticmethod
    def start(proc: Path = PROC) -> StealClock:
        steal, total = _steal_jiffies(proc)
        return StealClock(steal, total)

    def share(self, proc: Path = PROC) -> float:
        """Stolen jiffies over all jiffies of all CPUs since the start."""
        steal, total = _steal_jiffies(proc)
        return (steal - self.steal) / (total - self.total) if total > self.total else 0.0


STEAL_NOTE = 0.05  # steal share from which a run says its timings were contended


def steal_note(share: float | None) -> str | None:
    """What a steal share of STEAL_NOTE or more means for a run's timings (else None)."""
    if share is None or share < STEAL_NOTE:
        return None
    return (
        f"the hypervisor gave {share:.0%} of this machine's CPU time to other guests (steal "
        "time): timings on a contended virtual machine are noisier than on a quiet one"
    )


def foreign_cores(before: CpuReading | None, after: CpuReading | None) -> float | None:
    """Cores other processes kept busy between two readings, the interval stretched by a sleep
    to HINT_MIN_TICKS jiffies a CPU when it was shorter (a 2 ms timing counts a jiffy or none
    per CPU: one jiffy of another process read as 0.3 cores); without a first reading, during
    a WINDOW_S sleep now (None: /proc cannot be read)."""
    if before is not None and after is not None:
        load, ticks = after.load_since(before)
        if ticks < HINT_MIN_TICKS:
            time.sleep((HINT_MIN_TICKS - ticks + 1) / os.sysconf("SC_CLK_TCK"))
            later = CpuReading.now()
            if later is None:
                return None
            load = later.load_since(before)[0]
        return load.foreign
    load = host_load()
    return load.foreign if load.busy else None


@dataclass(frozen=True)
class ContentionWatch:
    """How contended the host was from a start on, for a timing done here to say of itself:
    the hypervisor's steal share and the cores other processes kept busy."""

    clock: StealClock
    before: CpuReading | None

    @staticmethod
    def start() -> ContentionWatch:
        return ContentionWatch(StealClock.start(), CpuReading.now())

    def read(self) -> tuple[float, float | None]:
        """(steal share, others' cores) since the start (others' cores None: unknown)."""
        return self.clock.share(), foreign_cores(self.before, CpuReading.now())


def busy_note(cores: float | None) -> str | None:
    """What other processes taking `cores` cores while a model was timed means (None if fewer
    than FOREIGN_HINT, or unknown)."""
    if cores is None or cores < FOREIGN_HINT:
        return None
    return (
        f"other processes kept {cores:.1f} of this machine's cores busy while timing: a "
        "thread pool whose threads wait for a busy core (TVM's, edgetune's) slows down far "
        "more than a single call suggests; time on a quiet machine"
    )


def contention_notes(steal: float | None, others: float | None) -> list[str]:
    """What a run timed on this host should say of it: other processes keeping `others` cores
    busy, the hypervisor taking a `steal` share of the CPU time (empty if neither matters)."""
    return [n for n in (busy_note(others), steal_note(steal)) if n]


def _steal_jiffies(proc: Path) -> tuple[int, int]:
    """(steal, total) jiffies so far, summed over the CPUs ((0, 0) if /proc cannot be read)."""
    try:
        fields = _cpu_fields(proc).values()
    except (OSError, ValueError, IndexError):
        return 0, 0
    return sum(f[STEAL_FIELD] for f in fields if len(f) > STEAL_FIELD), sum(map(sum, fields))


def _own_jiffies(proc: Path, pid: int) -> int:
    """CPU jiffies so far of process `pid` (all threads, reaped children) and of its live
    children: utime + stime + cutime + cstime from /proc/PID/stat."""
    total = 0
    for stat in proc.glob("[0-9]*/stat"):
        try:
            fields = stat.read_text(encoding="utf-8").rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # gone meanwhile
        if stat.parent.name == str(pid) or fields[1] == str(pid):  # fields[1]: the parent
            total += sum(int(x) for x in fields[11:15])
    return total


@dataclass(frozen=True)
class CpuReading:
    """Jiffy counters at one moment: each CPU's (busy, total) and this process's own (with its
    children's), for the load between two readings."""

    cpus: dict[int, tuple[int, int]]
    own: int

    @staticmethod
    def now(proc: Path = PROC) -> CpuReading | None:
        """The counters now (None if /proc cannot be read)."""
        try:
            return CpuReading(_cpu_jiffies(proc), _own_jiffies(proc, os.getpid()))
        except (OSError, ValueError, IndexError):
            return None

    def load_since(self, earlier: CpuReading) -> tuple[HostLoad, int]:
        """CPU use between `earlier` and this reading, and the fewest jiffies a CPU counted."""
        allowed = os.sched_getaffinity(0)
        busy, ticks = {}, []
        for cpu, (busy1, total1) in self.cpus.items():
            busy0, total0 = earlier.cpus.get(cpu, (busy1, total1))
            if cpu in allowed and total1 > total0:
                busy[cpu] = (busy1 - busy0) / (total1 - total0)
                ticks.append(total1 - total0)
        own = (self.own - earlier.own) / (sum(ticks) / len(ticks)) if ticks else 0.0
        return HostLoad(busy, own), min(ticks, default=0)


def host_load(window_s: float = WINDOW_S, proc: Path = PROC) -> HostLoad:
    """CPU use during a `window_s` sleep of this process (no CPUs: /proc cannot be read)."""
    before = CpuReading.now(proc)
    if before is None:
        return HostLoad({})
    time.sleep(window_s)
    after = CpuReading.now(proc)
    return HostLoad({}) if after is None else after.load_since(before)[0]


def load_between(earlier: CpuReading | None, now: CpuReading | None) -> HostLoad | None:
    """CPU use between two readings over an interval long enough to tell (HINT_MIN_TICKS
    jiffies a CPU); None when shorter, or without both readings."""
    if earlier is None or now is None:
        return None
    load, ticks = now.load_since(earlier)
    return load if ticks >= HINT_MIN_TICKS else None


def free_cpus(load: HostLoad, cores: int) -> tuple[int, ...] | None:
    """The CPUs to time on: None (all, as the board runs) unless other processes took at
    least FOREIGN_MIN cores; else the CPUs at most half busy (at least the least busy one), or
    None if `cores` of them are free."""
    if not load.loaded:
        return None
    free = tuple(sorted(c for c, b in load.busy.items() if b <= 0.5))
    if len(free) >= cores:
        return None
    return free or (min(load.busy, key=load.busy.__getitem__),)


def timed_on_cpus(cpus: tuple[int, ...], rt_mod, device, evaluator_config, repeated_args):
    """MetaSchedule's evaluator, run by TVM's thread pool with one thread pinned to each of
    `cpus` (in the runner's worker process: pinned, no thread can land on a busy core)."""
    import tvm

    global _pinned
    if _pinned != cpus:
        tvm.get_global_func("runtime.config_threadpool")(-2, len(cpus), [str(c) for c in cpus])
        _pinned = cpus
    evaluate = ms.runner.utils.run_evaluator_common
    return evaluate(rt_mod, device, evaluator_config, repeated_args)


def scaled_timing(runner: object) -> dict[str, object] | None:
    """How `runner`'s latest batch was timed when on fewer CPUs than the board has (the CPUs,
    the factor its times were scaled by), for the batch log; None when on all of them (or
    `runner`, or the runner it wraps, is not a FreeCoresRunner)."""
    runner = getattr(runner, "inner", runner)
    cpus = getattr(runner, "cpus", None)
    if not cpus:
        return None
    return {"cpus": list(cpus), "factor": len(cpus) / runner.cores}  # type: ignore[attr-defined]


def scaled(secs: list[float], factor: float) -> list[float]:
    """Each time multiplied by `factor`."""
    return [s * factor for s in secs]


@derived_object
class FreeCoresRunner(ms.runner.PyRunner):
    """The host board's runner: each batch timed on the cores other processes left free.

    One LocalRunner (one worker process) per set of CPUs used so far (None: all, unpinned), the
    first started at once in a thread (its worker's imports, ~0.8 s, overlap the first batch's
    search and builds; made where Ctrl-C is masked, the worker inherits the mask); `reduced`
    counts the candidates timed on fewer threads than the board has.
    """

    def __init__(self, cores: int, timeout_sec: float, evaluator_config) -> None:
        super().__init__()
        self.cores = cores
        self.timeout_sec = timeout_sec
        self.evaluator_config = evaluator_config
        self.runners: dict[tuple[int, ...] | None, object] = {}
        self.reduced = 0
        self.cpus: tuple[int, ...] | None = None  # of the latest batch
        self.loaded = False  # whether the latest check saw a foreign load
        self.reading: CpuReading | None = None  # the counters the next batch looks back to
        self._starting = threading.Thread(target=self._start, daemon=True)
        self._starting.start()

    def _start(self) -> None:
        """The unpinned runner, made ahead (in its own thread). A start that fails here says
        nothing: it is made again, and fails with its reason, at the first batch."""
        with contextlib.suppress(Exception):
            self._runner(None)

    def _runner(self, cpus: tuple[int, ...] | None):
        if cpus is None and threading.current_thread() is not self._starting:
            self._starting.join()
        if cpus not in self.runners:
            evaluator = functools.partial(timed_on_cpus, cpus) if cpus else None
            self.runners[cpus] = ms.runner.LocalRunner(
                timeout_sec=self.timeout_sec,
                evaluator_config=self.evaluator_config,
                f_alloc_argument=alloc_arguments,
                f_run_evaluator=evaluator,
            )
        return self.runners[cpus]

    def run(self, runner_inputs) -> list:
        """Time the batch (LocalRunner runs it before returning) in this host's timing turn."""
        with timing_turn():
            return self._run(runner_inputs)

    def _run(self, runner_inputs) -> list:
        now = CpuReading.now()
        between = load_between(self.reading, now)
        short = between is None and self.reading is not None and now is not None
        if short and not self.loaded:
            # too short since the reading to tell (a small task's batches): this batch times
            # as the previous one; the next looks back over both intervals
            load = HostLoad({})
        else:
            self.reading = now
            # quiet since the reading, and at the previous check: no window (0.1 s) needed
            quiet = between is not None and not self.loaded and between.foreign < FOREIGN_HINT
            load = HostLoad({}) if quiet else host_load()
        # a load seen once (a burst, a cron job) does not move timing; one seen twice does
        cpus = free_cpus(load, self.cores) if self.loaded else None
        self.loaded = load.loaded
        if cpus != self.cpus:
            self._announce(cpus, load.foreign)
        futures = self._runner(cpus).run(runner_inputs)
        if cpus is None:
            return futures
        self.reduced += len(runner_inputs)
        factor = len(cpus) / self.cores
        return [RunSecsFuture(f, functools.partial(scaled, factor=factor)) for f in futures]

    def _announce(self, cpus: tuple[int, ...] | None, busy: float) -> None:
        """Say when timing moves to fewer threads, or back to all of them."""
        if cpus is not None:
            note = (
                f"host busy ({busy:.1f} of {self.cores} cores taken by other processes): timing "
                f"candidates on CPU {','.join(map(str, cpus))} only, their times scaled by "
                f"{len(cpus)}/{self.cores}"
            )
        else:  # cpus differ from the latest batch's, which were fewer
            note = f"host quiet again: timing candidates on all {self.cores} threads"
        print(f"edgetune: {note}", file=sys.stderr, flush=True)
        self.cpus = cpus
