"""Whole-model build with the best records applied, and export with the board's toolchain."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import __version__, stop
from ..measure import backend
from ..outputs import output_file, written_whole
from ..records import best_latency_in, database_of
from ..runtime.artifact import ArtifactMeta, write_artifact_meta
from ..tasks import ModelTasks, for_model
from ..tasks.lower import without_epilogue_mark

if TYPE_CHECKING:
    from ..board import Board
    from ..frontend import Model
    from ..records import Library as RecordsLibrary
    from ..records import RecordStore


IS_SCHEDULED = "tirx.is_scheduled"  # TVM's mark of a kernel its database scheduled


@dataclass
class BuiltModel:
    """A compiled model: the executable, what it was built from, and how many tasks were tuned."""

    exe: Any  # relax.VMExecutable
    model_tasks: ModelTasks
    database: Any  # the records applied (MetaSchedule Database)
    tuned: int
    total: int
    unapplied: list[str]  # kernels whose record TVM failed to apply: built untuned


def apply_records(mod: Any, unapplied: list[str]) -> Any:
    """MetaSchedule's MetaScheduleApplyDatabase (the current database's schedule for each
    kernel), run on one kernel at a time: a kernel whose record TVM fails to apply is built
    untuned and named in `unapplied`, instead of failing the whole build (the pass stopped the
    build of MediaPipe's selfie segmenter on an internal error replaying the anchor trace of a
    conv + sigmoid + multiply kernel that shares its conv with a tuned one).

    A kernel that `tasks.lower.epilogues_apart` made a task of its own and that has no record
    of its own (records tuned before session 34) gets its conv's other kernel's record where
    that applies, as it did when the two were one task.

    A record's whole trace is replayed on the kernel itself first (`_replayed`): TVM's pass
    replays it only on the kernel it was tuned on, and on every other kernel of its task
    (same blocks and loops, other constants: int8 requantization scales) applies just its
    anchor block's steps (ScheduleUsingAnchorTrace), which fails on a trace that schedules
    each epilogue block (MobileNetV2 int8's residual adds: `get_child_blocks` of 9 blocks
    after it inlined some) and elsewhere gives the kernel a schedule that was never measured.
    TVM's pass remains the fallback for kernels the trace does not replay on."""
    import tvm
    from tvm import relax

    from ..tvm_api import ms, tirx

    apply = relax.transform.MetaScheduleApplyDatabase(enable_warning=False)
    database, target = ms.database.Database.current(), tvm.target.Target.current()

    def scheduled(gv: Any, func: Any) -> Any:
        replayed = _replayed(func, database, target) if database is not None else None
        return replayed if replayed is not None else apply(tvm.IRModule({gv: func}))[gv]

    out = tvm.IRModule(dict(mod.functions), attrs=mod.attrs)
    for gv, func in mod.functions.items():
        if not isinstance(func, tirx.PrimFunc):
            continue
        try:
            out[gv] = scheduled(gv, func)
            if out[gv].same_as(func) and (shared := without_epilogue_mark(func)) is not None:
                applied = scheduled(gv, shared)
                out[gv] = func if applied.same_as(shared) else applied
        except (RuntimeError, ValueError):  # TVM raises its errors as these
            if stop.requested():  # a Ctrl-C that TVM turned into one of them
                raise KeyboardInterrupt from None
            out[gv] = func
            unapplied.append(gv.name_hint)
    return out


def _replayed(func: Any, database: Any, target: Any) -> Any | None:
    """`func` scheduled by the whole trace of the record `database` gives it (found by its
    anchor block), None if it has none or the trace does not replay on it. Schedule
    primitives keep a kernel's meaning, so a trace that replays on it schedules it correctly
    whichever kernel of the task it was tuned on."""
    import tvm

    from ..tvm_api import s_tir

    mod = tvm.IRModule({"main": func})
    record = database.query_tuning_record(mod, target, "main")
    if record is None:
        return None
    sch = s_tir.Schedule(mod)
    try:
        record.trace.apply_to_schedule(sch, remove_postproc=False)
    except (RuntimeError, ValueError):  # TVM's schedule errors: the fallback decides
        if stop.requested():
            raise KeyboardInterrupt from None
        return None
    return sch.mod["main"].with_attrs(func.attrs).with_attr(IS_SCHEDULED, True)


@dataclass
class Library:
    """An exported library, and what its board's backend wrote beside it."""

    path: Path
    tuned: int
    total: int
    notes: list[str]


def build_model(
    model: Model,
    board: Board,
    records: RecordStore | None,
    library: RecordsLibrary | None = None,
    exec_mode: str | None = None,
) -> BuiltModel:
    """Compile `model` for `board` with the best record of every tuned task (in `records`, or
    else in the records `library`).

    The others keep a correct untuned schedule (CPU) or MetaSchedule's dlight fallback (GPU).
    `exec_mode` as in `compile_with_records`.
    """
    board.check_toolchain()
    model_tasks = for_model(model, board)
    database = database_of(records)
    if library is not None:
        database = library.fill(database, model_tasks.tasks)
    unapplied: list[str] = []
    exe = compile_with_records(model_tasks, database, exec_mode, unapplied)
    tuned = sum(1 for t in model_tasks if _has_record(database, t) and t.name not in unapplied)
    return BuiltModel(exe, model_tasks, database, tuned, len(model_tasks), unapplied)


def _has_record(database: Any, task: Any) -> bool:
    """Whether the build has a record for the task: its own, or for a kernel split off by
    `epilogues_apart`, its conv's shared task's (`apply_records`)."""
    import tvm

    if best_latency_in(database, task.mod) is not None:
        return True
    shared = without_epilogue_mark(task.mod["main"])
    return (
        shared is not None and best_latency_in(database, tvm.IRModule({"main": shared})) is not None
    )


# kernel calls up to which the Relax VM's own function is compiled to machine code (MobileNetV2
# 54; the real-model corpus's others at most 286, all but pying's 1441)
COMPILED_MAX_CALLS = 400


def compile_with_records(
    model_tasks: ModelTasks,
    database: Any,
    exec_mode: str | None = None,
    unapplied: list[str] | None = None,
) -> Any:
    """The lowered module with the database's schedules, its weights pre-packed, compiled.

    MetaSchedule's `compile_relax` plus weight pre-packing: tuned kernels that read their
    weights in a layout of their own (RewriteLayout) get a separate layout-transform function
    (SplitLayoutRewritePreproc) that constant folding runs at build time, so the library
    carries the packed weights and no inference repacks them. Untuned GPU functions get
    dlight's default schedules.

    `exec_mode="compiled"` compiles the Relax VM's own function (allocation, calls) to machine
    code with the kernels: 1.5 % faster than the interpreted "bytecode" on MobileNetV2 fp32
    (docs/performance.md). "bytecode" is what per-call VM instruments (`profile`) need. None:
    compiled up to COMPILED_MAX_CALLS kernel calls, else bytecode (LLVM's time on one function
    grows faster than its size: a wake-word model's 1441 calls took 332 s, compiled).
    Kernels whose record TVM fails to apply (`apply_records`) are built untuned and named in
    `unapplied`.
    """
    import tvm
    from tvm import relax

    from ..lowering.pipeline import tir_pipeline
    from ..rules.fallback import apply_gpu_fallback

    target = model_tasks.target
    calls = model_tasks.totals()["calls"]
    exec_mode = exec_mode or ("compiled" if calls <= COMPILED_MAX_CALLS else "bytecode")
    dataflow_lower = [  # Relax's for every target (0.27 does not export the CPU list)
        relax.transform.RewriteDataflowReshape(),
        relax.transform.ToNonDataflow(),
        relax.transform.RemovePurityChecking(),
        relax.transform.CallTIRRewrite(),
    ]
    gpu = relax.pipeline.BackendDispatcher.is_gpu_target(target)

    @tvm.transform.module_pass(opt_level=3)
    def pipeline(mod: Any, _ctx: Any) -> Any:
        mod = apply_records(mod, unapplied if unapplied is not None else [])
        mod = relax.transform.SplitLayoutRewritePreproc()(mod)
        mod = relax.transform.FoldConstant()(mod)
        mod = relax.transform.DeadCodeElimination()(mod)
        if gpu:
            mod = apply_gpu_fallback(mod)
        return tvm.transform.Sequential([*dataflow_lower, *relax.pipeline.finalize_passes(target)])(
            mod
        )

    with target, database, tvm.transform.PassContext(opt_level=3):
        return relax.build(
            model_tasks.fused,
            target=target,
            relax_pipeline=pipeline,
            tir_pipeline=tir_pipeline(),
            exec_mode=exec_mode,
        )


def export_model(built: BuiltModel, model: Model, board: Board, out: str | Path) -> Library:
    """Link the executable into a shared library for the board and append its metadata; the
    board's backend may write what it needs beside it (OpenCL: the kernels and call plan)."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with written_whole(out) as partial:  # a kill mid-link leaves an earlier build whole
        built.exe.export_library(str(partial), fcompile=board.toolchain().fcompile())
        write_artifact_meta(partial, _meta(built, model, board))
    after_build = backend(board).after_build
    notes = [after_build(built.model_tasks, built.database, out)] if after_build else []
    if built.unapplied:
        notes.append(
            f"{len(built.unapplied)} kernel(s) built untuned, TVM failed to apply their "
            f"record: {', '.join(built.unapplied)}"
        )
    return Library(out, built.tuned, built.total, notes)


def build_library(
    model: Model,
    board: Board,
    records: RecordStore | None,
    out: str | Path,
    library: RecordsLibrary | None = None,
) -> Library:
    """`edgetune build`: compile with the records (and records library) and export the board's
    library (the output checked first: a bad -o fails before the build)."""
    out = output_file(out, "-o")
    return export_model(build_model(model, board, records, library), model, board, out)


def _meta(built: BuiltModel, model: Model, board: Board) -> ArtifactMeta:
    """What the artifact says of itself (`edgetune run` reads it back)."""
    return ArtifactMeta(
        model=model.info,
        board=board.name,
        target=str(board.target()),
        tuned_tasks=built.tuned,
        total_tasks=built.total,
        edgetune_version=__version__,
        integer_kernels=bool(model.integer_ops),
    )
