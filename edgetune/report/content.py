"""What a report says, as sections of text, tables and charts (rendered by `page`/`markdown`)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InputError
from .plot import LineChart, Series
from .tuning import TuningRun, load_run, shares


@dataclass
class Table:
    columns: list[str]
    rows: list[list[str]]


Block = str | Table | LineChart


@dataclass
class Section:
    title: str
    blocks: list[Block] = field(default_factory=list)


@dataclass
class Report:
    title: str
    sections: list[Section]
    data: dict[str, Any]  # the same, machine-readable (--json)

    def charts(self) -> list[LineChart]:
        return [b for s in self.sections for b in s.blocks if isinstance(b, LineChart)]


def _num(value: float | None, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


def load_other(path: str | Path) -> TuningRun | dict[str, Any]:
    """A second records folder, or the JSON of `edgetune compare --json` / `profile --json`."""
    path = Path(path)
    if path.is_dir():
        return load_run(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise InputError(f"--with {path}: not a records folder or readable JSON ({err})") from None
    if not isinstance(data, dict) or not ({"kernels", "litert"} & set(data)):
        raise InputError(
            f"--with {path}: not the JSON of `edgetune compare --json` or `profile --json`"
        )
    try:  # the fields the report shows, of the types it shows them as
        if "litert" in data:
            float(data["edgetune"]["median_ms"])
            if data["litert"] is not None:  # None: LiteRT could not run the model
                float(data["litert"]["median_ms"])
            str(data["model"]), int(data["tuned_tasks"]), int(data["total_tasks"])
        else:
            str(data["verdict"])
            for k in data["kernels"]:
                str(k["kernel"]), float(k["ms"])
    except (KeyError, TypeError, ValueError) as err:
        raise InputError(
            f"--with {path}: a field missing or of the wrong type ({type(err).__name__}: {err}); "
            "was it edited by hand? write it again with `edgetune compare/profile --json`"
        ) from None
    return {**data, "file": path.name}


def build_report(run: TuningRun, others: list[TuningRun | dict[str, Any]]) -> Report:
    runs = [run, *[o for o in others if isinstance(o, TuningRun)]]
    files = [o for o in others if isinstance(o, dict)]
    s = run.summary()
    title = f"Tuning report: {s['model']} on {s['board']}"
    estimate = "n/a (not every task measured)" if s["estimated_latency_ms"] is None else (
        f"{s['estimated_latency_ms']:.4f} ms")  # fmt: skip
    overview = (
        f"{s['trials']} measured candidates ({s['failed']} failed) in {run.folder}; tasks "
        f"measured {s['tasks_measured']}/{s['tasks']}; estimated end-to-end latency "
        f"{estimate} (sum over tasks of weight x latency: the final "
        f"choice's, re-measured, else the search's best); tuning "
        f"time {_num(s['elapsed_s'], '.0f')} s."
    )
    said = [overview]
    if scaled := s["trials_timed_scaled"]:
        said.append(
            f"{scaled} of these candidates were timed on fewer CPUs while other processes kept "
            "the host busy, their times scaled by the CPUs used / all (ideal speedup). A kernel "
            "of a few microseconds reads faster that way than it runs on all CPUs (starting a "
            "parallel loop costs about a microsecond): compare such kernels from a quiet tune."
        )
    if run.tuned_with.get("emulated"):
        said.insert(0, f"EMULATED timings: {s['board']} is an emulated board "
                    f"({run.tuned_with.get('timing_note') or 'not the board'}); every latency "
                    "here is the emulator's, never the real board's speed.")  # fmt: skip
    sections = [Section("Overview", said), _search(runs), _tasks(run), _failures(run)]
    sections.append(_setup(run))
    if len(runs) > 1 or files:
        sections.append(_side_by_side(runs, files))
    data = {**run.to_json(), "others": [o.summary() if isinstance(o, TuningRun) else o
                                        for o in others]}  # fmt: skip
    return Report(title, sections, data)


def _search(runs: list[TuningRun]) -> Section:
    def chart(title: str, x_label: str, curve: str) -> LineChart:
        series = [Series(r.label, getattr(r, curve)()) for r in runs]
        return LineChart(title, x_label, "estimated end-to-end (ms)", series)

    blocks: list[Block] = [
        chart("Estimated end-to-end latency vs trials", "measured trials", "curve_by_trials"),
        chart("Estimated end-to-end latency vs tuning time", "tuning time (s)", "curve_by_time"),
    ]
    if not runs[0].batches:
        blocks.insert(0, "No batch log in this folder (tuned before edgetune kept one): no curves.")
    return Section("Search", blocks)


def _tasks(run: TuningRun) -> Section:
    columns = ["#", "task", "weight", "MFLOPs", "trials", "best us", "final us", "from",
               "GFLOP/s", "share", "family", "path"]  # fmt: skip
    library = run.library_counts()
    if library:
        columns.append("library")
    rows = [
        [
            str(i),
            t.name,
            str(t.weight),
            f"{t.flops / 1e6:.2f}",
            str(t.trials),
            _num(t.best_us, ".2f"),
            _num(t.final_us, ".2f"),
            t.chosen_from or "",
            _num(t.gflops, ".2f"),
            "n/a" if share is None else f"{share:.1%}",
            t.family,
            t.path,
        ]
        + ([t.library or ""] if library else [])  # fmt: skip
        for i, (t, share) in enumerate(zip(run.tasks, shares(run.tasks)))
    ]
    note = ("Best: the search's best estimate. Final: the schedule builds use, its top "
            "candidates re-measured together after the search (tune --final-top); from: whose "
            "schedule it is (own, a family member's, or the records library's). Share: of the "
            "measured tasks' summed weight x latency (final, else best). Path: int8 (integer "
            "kernel), qdq (float inside dequantize/quantize) or float.")  # fmt: skip
    blocks: list[Block] = [Table(columns, rows), note]
    if library:
        blocks.append(
            f"Records library, tasks: reused {library['reused']} (0 trials), known but "
            f"searched {library['known']}, similar {library['similar']} (searched from their "
            f"family's library schedules), new {library['new']}; final choices from the "
            f"library {library['chosen_from_library']}, from family members "
            f"{library['chosen_from_members']}."
        )
    return Section("Tasks", blocks)


def _failures(run: TuningRun) -> Section:
    groups = run.failures()
    logged = sum(g.count for g in groups)
    blocks: list[Block] = []
    if groups:
        blocks.append(Table(
            ["failed", "count", "tasks", "error"],
            [[g.kind, str(g.count), ", ".join(sorted(g.tasks)), g.headline] for g in groups],
        ))  # fmt: skip
    else:
        blocks.append("No failed candidates in the batch log.")
    if run.failed_records > logged:
        blocks.append(f"{run.failed_records - logged} failed record(s) predate the batch log: "
                      "their errors are only in the MetaSchedule logs (logs/).")  # fmt: skip
    return Section("Failed candidates", blocks)


def _setup(run: TuningRun) -> Section:
    w, m = run.tuned_with, run.manifest
    chain = w.get("toolchain", {})
    compiler = " ".join(filter(None, [chain.get("cc"), chain.get("triple")]))
    rows = [
        ["board", str(w.get("board", m.get("board")))],
        ["target", str(w.get("target", m.get("target")))],
        ["rule set", str(w.get("rule_set"))],
        ["toolchain", f"{chain.get('name')} ({compiler})"],
        ["search", str(w.get("search"))],
        ["edgetune", str(w.get("edgetune"))],
        ["TVM", f"{w.get('tvm')} (tvm-ffi {w.get('tvm_ffi')})"],
        ["records created", str(m.get("created"))],
        ["last measured", _last_measured(run) or str(w.get("time"))],
    ]
    return Section("Set-up", [Table(["", ""], rows)])


def _last_measured(run: TuningRun) -> str | None:
    """When the folder's last batch was measured (a rerun that measured nothing is not)."""
    if not run.batches:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(run.batches[-1]["time"]))


def _side_by_side(runs: list[TuningRun], files: list[dict[str, Any]]) -> Section:
    blocks: list[Block] = []
    if len(runs) > 1:
        cols = ["records", "model", "board", "trials", "failed", "tasks measured",
                "est. end-to-end ms", "tuning s"]  # fmt: skip
        blocks.append(Table(cols, [
            [r.label, str(s["model"]), str(s["board"]), str(s["trials"]), str(s["failed"]),
             f"{s['tasks_measured']}/{s['tasks']}", _num(s["estimated_latency_ms"], ".4f"),
             _num(s["elapsed_s"], ".0f")]
            for r in runs for s in [r.summary()]
        ]))  # fmt: skip
    compares = [f for f in files if "litert" in f]
    if compares:
        blocks.append(Table(
            ["compare", "model", "tuned tasks", "edgetune median ms", "LiteRT median ms",
             "edgetune / LiteRT"],
            [[c["file"], str(c["model"]), f"{c['tuned_tasks']}/{c['total_tasks']}",
              f"{c['edgetune']['median_ms']:.3f}", *_against_litert(c)]
             for c in compares],
        ))  # fmt: skip
    profiles = [f for f in files if "kernels" in f]
    if profiles:
        blocks += [f"{p['file']}: {p['verdict']}" for p in profiles]
        kernels = list(dict.fromkeys(k["kernel"] for p in profiles for k in p["kernels"]))
        by = [{k["kernel"]: k for k in p["kernels"]} for p in profiles]
        blocks.append(Table(
            ["kernel", *[f"ms ({p['file']})" for p in profiles], "tuned estimate ms"],
            [[name, *[_num(b[name]["ms"], ".4f") if name in b else "-" for b in by],
              _num(next((b[name].get("estimate_ms") for b in by if name in b), None), ".4f")]
             for name in kernels],
        ))  # fmt: skip
    return Section("Side by side", blocks)


def _against_litert(compare: dict) -> list[str]:
    """LiteRT's median and edgetune's over it, of a `compare --json` (n/a: LiteRT not timed)."""
    ref = compare["litert"]
    if ref is None:
        return ["n/a", "n/a"]
    return [
        f"{ref['median_ms']:.3f}",
        f"{compare['edgetune']['median_ms'] / ref['median_ms']:.2f}x",
    ]
