"""Each engine timed in a process of its own, round after round in a rotating order.

TVM's thread pool keeps its workers spinning after a call, and LiteRT timed in the same process
runs slower for it (issue 12: LiteRT int8 at 2 threads measured slower than at 1 thread). So
`edgetune compare` and `scripts/bench_host.py` time every engine in a fresh process, one process
per engine per round, the engines' order rotating from round to round so that a load change on a
shared machine hits each of them alike. A round's processes start together and load their
engines side by side (imports and loading, 1-2 s each), then wait, idle, until each in turn is
told to run: none times while another loads or runs. A round reports the Latency of its
`repeat` calls, the machine's steal share while they ran and the cores other processes kept
busy meanwhile (`others_cores`).

    python -m edgetune.oracle.isolated RUN_JSON     (the worker: loads, prints READY, waits for
                                                     a line on stdin, prints its result as JSON)
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from statistics import median
from typing import Any

from ..errors import EdgetuneError, last_line

LITERT, TVM = "litert", "tvm"
READY = "edgetune-engine-loaded"  # the worker's line once its engine is loaded


@dataclass
class EngineRun:
    """One engine on one model: what a worker process loads, feeds and times."""

    engine: str  # LITERT (path: a .tflite) or TVM (path: a library built for the host)
    path: str
    threads: int
    inputs: list[str]  # .npy files, one per model input
    repeat: int  # timed calls per round, after warm-up (at least, with min_seconds)
    input_shapes: list[list[int]] | None = None  # LiteRT: the inputs' shapes as imported
    outputs: str | None = None  # .npz the worker writes the engine's outputs to
    steps: int = 1  # invocations in sequence (states carried); > 1: inputs, outputs [steps, ...]
    builtin_kernels: bool = False  # LiteRT without XNNPACK (a model it cannot prepare)
    min_seconds: float = 0.0  # > 0: more calls than `repeat` if they take less (time_calls)


def _load(run: EngineRun) -> Any:
    """The engine, ready to call (LiteRT's copy of the model with MediaPipe ops substituted)."""
    if run.engine == LITERT:
        from .litert import LiteRTModel
        from .substitute import substitute_custom_ops

        content, _ = substitute_custom_ops(Path(run.path).read_bytes())
        return LiteRTModel(content, run.threads, run.builtin_kernels, run.input_shapes)
    from ..runtime import load_artifact

    return load_artifact(run.path, run.threads)


def work(run: EngineRun, engine: Any) -> dict[str, Any]:
    """In the worker process, with the run's engine loaded: save the outputs if asked, time
    `repeat` calls."""
    import numpy as np

    from ..measure.free_cores import ContentionWatch

    arrays = [np.load(p) for p in run.inputs]
    steps = [[a[i] for a in arrays] for i in range(run.steps)] if run.steps > 1 else [arrays]
    outputs = [engine(inputs) for inputs in steps]  # in sequence: states carried
    if run.outputs:
        np.savez(run.outputs, *(stacked(outs) for outs in zip(*outputs)))
    watch = ContentionWatch.start()
    latency = engine.bench(steps[-1], run.repeat, run.min_seconds).to_json()
    steal, others = watch.read()
    return {**latency, "host_steal": steal, "others_cores": others}


def stacked(per_step) -> Any:
    """One output over a sequence of steps: as it is for one step, else [steps, ...]."""
    import numpy as np

    return per_step[0] if len(per_step) == 1 else np.stack(per_step)


class EngineProcess:
    """`work(run)` in a fresh Python process, started at once: it loads the engine, then waits
    for `time()` (`loaded()` waits until it is ready, or ended)."""

    def __init__(self, run: EngineRun) -> None:
        self.run = run
        # stderr to a file, a pipe left unread could fill; closed by close()
        self._stderr = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115
        self._proc = subprocess.Popen(
            [sys.executable, "-m", __name__, json.dumps(asdict(run))],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
        )

    def loaded(self) -> None:
        """Wait until the engine is loaded (or the process ended: `time()` says why)."""
        for line in self._proc.stdout:
            if line.strip() == READY:
                return

    def time(self) -> dict[str, Any]:
        """Run and time it, in this host's timing turn; its Latency (as JSON) and steal share."""
        from ..measure.timing_turn import timing_turn

        with timing_turn():  # no edgetune process (a tune's batch) times on this host meanwhile
            out, _ = self._proc.communicate("go\n")
        if self._proc.returncode != 0:
            self._stderr.seek(0)
            last = last_line(self._stderr.read(), "no output")
            name = Path(self.run.path).name
            raise EdgetuneError(f"timing {self.run.engine} on {name} failed: {last}")
        return json.loads(out.strip().splitlines()[-1])

    def close(self) -> None:
        """End the process if it still runs (a round given up), and its files."""
        if self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()
        self._proc.stdout.close()
        self._stderr.close()


def time_rotating(runs: list[EngineRun], rounds: int) -> list[list[dict[str, Any]]]:
    """Every run in its own process once per round, starting one later each round (a round's
    processes load together first); per run, its rounds' results."""
    results: list[list[dict[str, Any]]] = [[] for _ in runs]
    for r in range(max(1, rounds)):
        processes = [EngineProcess(run) for run in runs]
        try:
            for process in processes:
                process.loaded()
            for i in [(r + k) % len(runs) for k in range(len(runs))]:
                results[i].append(processes[i].time())
        finally:
            for process in processes:
                process.close()
    return results


def most_others_cores(timings: list[dict[str, Any]]) -> float | None:
    """The most cores other processes kept busy during any of these timings (None: unknown)."""
    others = [t["others_cores"] for t in timings if t.get("others_cores") is not None]
    return max(others, default=None)


def summary(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """One engine's rounds in one Latency-shaped record: the median over rounds of each
    statistic (min: the least), the calls in all, the rounds' medians, their median steal and
    the most cores other processes kept busy in a round (None if unknown)."""
    stat = {k: median(r[k] for r in rounds) for k in ("median_ms", "p90_ms", "p10_ms", "mean_ms")}
    return {
        **stat,
        "min_ms": min(r["min_ms"] for r in rounds),
        "repeat": sum(r["repeat"] for r in rounds),
        "rounds": len(rounds),
        "round_medians_ms": [float(f"{r['median_ms']:.6g}") for r in rounds],
        "host_steal": median(r["host_steal"] for r in rounds),
        "others_cores": most_others_cores(rounds),
    }


def _worker(run_json: str) -> None:
    """The worker process: load, say so, wait for its turn, print the result as JSON."""
    run = EngineRun(**json.loads(run_json))
    engine = _load(run)
    print(READY, flush=True)
    sys.stdin.readline()
    print(json.dumps(work(run, engine)))


if __name__ == "__main__":
    _worker(sys.argv[1])
