"""Per-kernel times of a built model as it runs whole, against the tuned estimates.

The model runs in the Relax VM with an instrument that timestamps every call before and after
(wall clock; CPU kernels return when done), so each kernel is timed where it really runs: after
the kernels before it, with the caches they left. The VM's own work (allocation, reshapes,
argument handling) is whatever the uninstrumented run takes beyond the kernels. Each kernel's
estimate is its task's best measured latency in the records (an isolated, repeated run), so
`in-model / estimate` says which kernels lose time once they run inside the model.
"""

from __future__ import annotations

import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from statistics import median
from typing import TYPE_CHECKING, Any

from ..compile import build_model, export_model
from ..errors import BoardError
from ..farm.agent import profile_vm
from ..farm.remote_run import profile_remote
from ..measure.free_cores import ContentionWatch, contention_notes
from ..measure.timing_turn import timing_turn
from ..runtime import load_executable, load_inputs
from ..tasks.task import shorten

if TYPE_CHECKING:
    from ..board import Board
    from ..frontend import Model
    from ..records import RecordStore

PREPACKED = "_prepacked"  # suffix the build gives kernels whose weights it packed


@dataclass
class KernelRow:
    """One kernel (a PrimFunc of the model) per inference."""

    kernel: str
    calls: int  # calls per inference
    ms: float  # median over runs of its summed time per inference
    share: float  # of the kernels' total
    estimate_ms: float | None  # tuned estimate x calls (None: no record)

    @property
    def tuned(self) -> bool:
        return self.estimate_ms is not None

    @property
    def excess_ms(self) -> float:
        return self.ms - self.estimate_ms if self.estimate_ms is not None else 0.0


@dataclass
class Profile:
    """A model's time per inference: kernels, the VM's own work, the whole."""

    model: str
    board: str
    threads: int
    runs: int
    total_ms: float  # median of uninstrumented whole-model runs
    kernels: list[KernelRow]  # heaviest first
    emulated: bool = False  # an emulated board: its times are not the real board's
    timer_ms: float = 0.0  # what timing every call adds per inference (instrumented - total)
    timed_calls: int = 0  # calls timed per inference (kernels and the VM's builtins)
    host_steal: float | None = None  # hypervisor steal share while profiling (host board only)
    others_cores: float | None = None  # cores other processes kept busy meanwhile (host only)

    @property
    def kernels_ms(self) -> float:
        return sum(k.ms for k in self.kernels)

    @property
    def outside_ms(self) -> float | None:
        """Time outside the kernels: the VM's allocation, reshapes, calls (None when the
        kernels' times, which include the timer's cost, exceed the whole)."""
        outside = self.total_ms - self.kernels_ms
        return outside if outside >= 0 else None

    @property
    def timer_note(self) -> str | None:
        """Said when the timer's own cost is a sizeable part of the kernels' times."""
        if self.timer_ms < 0.05 * self.total_ms or not self.timed_calls:
            return None
        per_call = self.timer_ms / self.timed_calls * 1e3
        kernel_calls = sum(k.calls for k in self.kernels)
        return (
            f"timing each call adds about {per_call:.1f} us to it ({self.timed_calls} timed "
            f"calls per inference: {kernel_calls} kernel calls, {self.timed_calls - kernel_calls}"
            f" of the VM's builtins; {self.timer_ms:.3f} ms), part of it inside the kernels' "
            "times: kernels of a few us are overstated"
        )

    @property
    def estimates_ms(self) -> float | None:
        known = [k.estimate_ms for k in self.kernels if k.tuned]
        return sum(known) if known else None

    def verdict(self) -> str:
        """One line: where the model loses time."""
        worst = max(self.kernels, key=lambda k: k.excess_ms, default=None)
        parts = [
            ("EMULATED timings, not the board's: " if self.emulated else "")
            + f"{self.total_ms:.3f} ms per inference: kernels {self.kernels_ms:.3f} ms, outside "
            "kernels "
            + (
                f"{self.outside_ms:.3f} ms"
                if self.outside_ms is not None
                else "n/a (the kernels' times, each call timed apart, exceed the whole's)"
            )
        ]
        if self.timer_note:
            parts.append(self.timer_note)
        if self.estimates_ms is not None:
            tuned = [k for k in self.kernels if k.tuned]
            parts.append(
                f"tuned kernels {sum(k.ms for k in tuned):.3f} ms in the model vs "
                f"{self.estimates_ms:.3f} ms estimated "
                f"({sum(k.ms for k in tuned) / self.estimates_ms:.2f}x)"
            )
        if worst is not None and worst.excess_ms > 0:
            parts.append(
                f"most lost in {shorten(worst.kernel)}: {worst.ms:.3f} ms vs "
                f"{worst.estimate_ms:.3f} ms estimated (+{worst.excess_ms:.3f} ms)"
            )
        else:
            untuned = [k for k in self.kernels if not k.tuned]
            if untuned:
                parts.append(
                    f"untuned kernels take {sum(k.ms for k in untuned):.3f} ms "
                    f"({len(untuned)} kernels)"
                )
        parts += contention_notes(self.host_steal, self.others_cores)
        return "; ".join(parts)

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "board": self.board,
            "threads": self.threads,
            "runs": self.runs,
            "emulated": self.emulated,
            "total_ms": self.total_ms,
            "kernels_ms": self.kernels_ms,
            "outside_ms": self.outside_ms,
            "timer_ms": self.timer_ms,
            "timed_calls": self.timed_calls,
            "estimates_ms": self.estimates_ms,
            "host_steal": self.host_steal,
            "others_cores": self.others_cores,
            "verdict": self.verdict(),
            "kernels": [{**asdict(k), "tuned": k.tuned} for k in self.kernels],
        }


def profile_model(
    model: Model,
    board: Board,
    records: RecordStore | None,
    input_paths: list[str] | None = None,
    runs: int = 20,
    threads: int | None = None,
    accept_new_host_key: bool = False,
) -> Profile:
    """Build `model` with its records and profile it: on this machine for the host board, on
    the board itself (through its SSH agent) for a farm board."""
    import tvm

    runs = max(runs, 1)
    steal = others = None  # the hypervisor's and other processes' share, where it runs here
    built = build_model(model, board, records, exec_mode="bytecode")  # instrumented calls
    inputs = load_inputs(model.info, input_paths) + model.info.initial_states()
    if board.is_host:
        threads = threads or board.hardware.cores
        loaded = load_executable(built.exe, threads, info=model.info)
        args = [tvm.runtime.tensor(x, loaded.device) for x in inputs]
        with timing_turn():  # no edgetune process times on this host meanwhile
            watch = ContentionWatch.start()
            raw = profile_vm(loaded.vm, args, runs)
            steal, others = watch.read()
    else:
        if threads and threads != board.hardware.cores:
            raise BoardError(
                f"board '{board.name}' runs models on its {board.hardware.cores} cores "
                "([hardware] cores in its board file), not --threads"
            )
        threads = board.hardware.cores
        with tempfile.TemporaryDirectory() as tmp:
            library = export_model(built, model, board, Path(tmp) / f"{model.info.name}.so")
            raw = profile_remote(board, library.path, inputs, runs, accept_new_host_key)
    prof = _profile_from(raw, built.model_tasks.fused, records, model, board, threads, runs)
    prof.host_steal, prof.others_cores = steal, others
    return prof


def _profile_from(raw, fused, records, model, board, threads: int, runs: int) -> Profile:
    """Rows for the model's kernels from the timings `profile_vm` took."""
    kernels = set(_kernel_names(fused))
    rows = []
    for name, secs in raw["kernels"].items():
        if name not in kernels:
            continue  # the VM's own builtins (allocation, shape checks)
        per_run = raw["calls"][name]
        per_call = _estimate_s(fused, name, records)
        rows.append(
            KernelRow(
                kernel=name,
                calls=per_run,
                ms=median(secs) * 1e3,
                share=0.0,
                estimate_ms=per_call * 1e3 * per_run if per_call else None,
            )
        )
    whole = sum(r.ms for r in rows) or 1.0
    for r in rows:
        r.share = r.ms / whole
    rows.sort(key=lambda r: -r.ms)
    total = median(raw["total"]) * 1e3
    timer = max(0.0, median(raw.get("instrumented", raw["total"])) * 1e3 - total)
    return Profile(model.info.name, board.name, threads, runs, total, rows, board.emulated,
                   timer, sum(raw["calls"].values()))  # fmt: skip


def _kernel_names(fused: Any) -> list[str]:
    """Names a kernel of the fused module may have in the built library."""
    from ..tvm_api import tirx

    names = [gv.name_hint for gv, f in fused.functions.items() if isinstance(f, tirx.PrimFunc)]
    return names + [n + PREPACKED for n in names]


def _estimate_s(fused: Any, kernel: str, records: RecordStore | None) -> float | None:
    """The best measured latency of the task a kernel belongs to (None: not tuned)."""
    import tvm

    if records is None:
        return None
    func = fused[kernel.removesuffix(PREPACKED)]
    return records.best_latency_s(tvm.IRModule({"main": func.with_attr("global_symbol", "main")}))
