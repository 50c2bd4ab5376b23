"""`edgetune ci`: every check of a suite on every board it names.

Per check and board: is the board reachable (else an infrastructure error, and the next board
runs), tune the tasks that have no record yet within the check's budget, build from the
records, run on the board through its backend (here, rpc, ssh) in several timing rounds,
compare the outputs with LiteRT's on this machine (oracle.reference: the reference kernels for
int8/uint8 models), and judge the latency against the baseline.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from .. import __version__, stop
from ..compile import build_library
from ..errors import BoardError, EdgetuneError, InputError, MissingPackage, last_line
from ..farm import strategies
from ..frontend import Model, find_model, load_model, read_tflite
from ..measure import backend
from ..measure.free_cores import ContentionWatch, contention_notes
from ..oracle import agreement
from ..oracle.reference import Reference, builtin_reference, litert_reference
from ..outputs import output_file
from ..records import RecordStore
from ..records.manifest import tuned_requantization
from ..runtime.inputs import load_input_steps
from ..search import tune_model
from .baseline import NO_BASELINE, Timing, judge, key, read_baseline, rule_text, write_baseline
from .result import ERROR, PASS, CheckResult, SuiteResult
from .suite import Check, Suite

if TYPE_CHECKING:
    from ..board import Board

Printer = Callable[[str], None]


class CheckFailed(EdgetuneError):
    """A check cannot pass (e.g. tuning measured nothing); its message is the reason."""


def run_suite(
    suite: Suite,
    out_dir: Path,
    update_baseline: bool = False,
    only: list[str] | None = None,
    say: Printer = print,
) -> SuiteResult:
    """Run the suite's checks (or those named in `only`) on their boards; with
    `update_baseline`, store the latencies measured as the new baseline instead of judging."""
    checks = suite.selected(only)
    boards = suite.boards()
    for check in checks:
        _check_inputs(check)
    baseline = read_baseline(suite.baseline)
    if update_baseline:  # a baseline that cannot be written is refused before any work
        output_file(suite.baseline, "baseline")
    out_dir.mkdir(parents=True, exist_ok=True)
    results, updates = [], {}
    rule = rule_text(sorted({c.threshold_pct for c in checks}))
    pairs = [(check, name) for check in checks for name in check.boards]
    try:
        for check, name in pairs:
            if stop.requested():  # an interrupt TVM turned into an error the check caught
                raise KeyboardInterrupt
            say(f"{check.name} on {name} ...")
            base_key = key(check.name, boards[name].name)  # a board given by path: its name
            base = None if update_baseline else baseline.get(base_key)
            result, timing = run_check(check, boards[name], base, out_dir, say, name)
            if base is None and not update_baseline and result.status == PASS:
                result.reasons.append(f"latency: {NO_BASELINE}")
            results.append(result)
            if update_baseline and timing and result.status == PASS:
                updates[base_key] = (timing, _baseline_facts(result))
    except KeyboardInterrupt:  # what ran is reported; the baseline stays as it was
        for check, name in pairs[len(results) :]:
            results.append(_new_result(check, boards[name]))
            results[-1].fail("not run: the suite was interrupted", ERROR)
        stop.clear()  # carried out: the outputs are written, the exit code says it
        return SuiteResult(suite.name, rule, results, str(suite.baseline), interrupted=True)
    if updates:
        write_baseline(suite.baseline, updates)
    return SuiteResult(suite.name, rule, results, str(suite.baseline), bool(updates))


def _new_result(check: Check, board: Board) -> CheckResult:
    import tvm

    facts = {"target": board.summary()["target"], "toolchain": board.toolchain_name,
             "edgetune": __version__, "tvm": tvm.__version__}  # fmt: skip
    return CheckResult(check.name, check.model, board.name, board.emulated,
                       board.measure.timing_note, check.threshold_pct, check.rounds,
                       check.repeat, facts)  # fmt: skip


def _check_inputs(check: Check) -> None:
    """InputError (an invalid suite, before any work) for input files the model cannot take."""
    if not check.inputs:
        return
    try:
        _, info = read_tflite(find_model(check.model))
    except EdgetuneError:
        return  # a model that cannot be read fails its own check
    try:
        load_input_steps(info, [str(p) for p in check.inputs], check.steps)
    except InputError as err:
        raise InputError(f"{check.name}: {err}") from None


def run_check(
    check: Check,
    board: Board,
    baseline: Timing | None,
    out_dir: Path,
    say: Printer,
    entry: str | None = None,
) -> tuple[CheckResult, Timing | None]:
    """One check on one board (`entry`: as the check names it, default its name); never raises
    for what the board or the model did."""
    result = _new_result(check, board)
    started, timing = time.monotonic(), None
    try:
        strategies.reachable(board)
        result.facts["toolchain"] = f"{board.toolchain_name} ({board.toolchain().cc})"
        folder = check.records.get(entry or board.name)
        model = load_model(find_model(check.model), requantization=tuned_requantization(folder))
        result.model = model.info.name
        store = _records(check, model, board, folder)
        if check.tune_trials and store is not None:
            result.trials = _tune_missing(model, board, store, check.tune_trials, say)
        lib = build_library(model, board, store, out_dir / f"{check.name}-{board.name}.so")
        result.artifact = str(lib.path)
        result.tuned_tasks, result.total_tasks = lib.tuned, lib.total
        paths = [str(p) for p in check.inputs] or None
        steps = load_input_steps(model.info, paths, check.steps)
        states = model.info.initial_states()
        outputs, timing, busy = _timed_runs(
            board, lib.path, steps, states, check.rounds, check.repeat
        )
        result.latency_ms, result.round_medians_ms = timing.median_ms, timing.round_medians_ms
        if busy is not None:  # a baseline timed on a busy host would hide regressions
            result.facts["others_cores"] = busy.others  # None: unknown
            result.timing_note = "; ".join(filter(None, [result.timing_note, *busy.notes]))
        _compare_numerics(result, model, steps, outputs, check)
        verdict = judge(timing, baseline, check.threshold_pct)
        result.baseline_ms, result.limit_ms = verdict.baseline_ms, verdict.limit_ms
        result.change_pct = verdict.change_pct
        if verdict.regressed:
            result.fail(f"latency regression: {verdict.reason}")
        elif baseline is not None:
            result.reasons.append(f"latency {verdict.reason}")
        result.reasons += [f"timing: {note}" for note in (busy.notes if busy else [])]
    except (BoardError, MissingPackage) as err:  # the runner's environment, not the change
        result.fail(f"infrastructure: {err}", ERROR)
    except EdgetuneError as err:
        result.fail(str(err))
    except Exception as err:  # noqa: BLE001 - a crash in one check must not stop the others
        if stop.requested():  # a Ctrl-C that TVM turned into an error of its own
            raise KeyboardInterrupt from None
        last = last_line(err)
        result.fail(f"{type(err).__name__}: {last}")
    result.seconds = time.monotonic() - started
    return result, timing


def _records(check: Check, model: Model, board: Board, folder: Path | None) -> RecordStore | None:
    if folder is None:
        return None
    return RecordStore(folder, model.info, board, create=bool(check.tune_trials))


def _tune_missing(model: Model, board: Board, store: RecordStore, budget: int, say: Printer) -> int:
    """Tune the tasks without a record within `budget` trials; CheckFailed if that measured
    nothing (every candidate failed to build or run)."""
    done = store.summary().measured
    result = tune_model(model, board, store, done + budget, printer=say,
                        on_batch=lambda progress: say(progress.line()),
                        task_filter=lambda t: store.best_latency_s(t.mod) is None)  # fmt: skip
    p = result.progress
    if not result.tasks:
        return 0
    valid = p.trials - p.failed_builds - p.failed_runs
    if valid <= 0:
        raise CheckFailed(
            f"tuning measured 0 of {p.trials or budget} candidates for {len(result.tasks)} "
            f"untuned task(s) ({p.failed_builds} failed builds, {p.failed_runs} failed runs)"
        )
    return p.trials


class Contention(NamedTuple):
    """What other processes did while a check was timed on the host board."""

    others: float | None  # cores other processes kept busy (None: unknown)
    notes: list[str]  # what that means for the timing


def _timed_runs(
    board: Board,
    path: Path,
    steps: list[list[np.ndarray]],
    states: list[np.ndarray],
    rounds: int,
    repeat: int,
) -> tuple[list[list[np.ndarray]], Timing, Contention | None]:
    """Each step's outputs in the first round (the steps in sequence, states carried from
    `states`), the median of each of `rounds` rounds of `repeat` runs (of the last step), and
    on the host board the contention meanwhile."""
    run = backend(board).run_artifact
    outputs, medians = None, []
    watch = ContentionWatch.start() if board.is_host else None
    for _ in range(rounds):
        outs, latency = run(board, path, steps, states, repeat)
        outputs = outs if outputs is None else outputs
        medians.append(latency.median_ms)
    if watch is None:
        return outputs, Timing(medians), None
    steal, others = watch.read()
    return outputs, Timing(medians), Contention(others, contention_notes(steal, others))


def _compare_numerics(result: CheckResult, model: Model, steps, outputs, check: Check) -> None:
    """Each step's outputs against the reference's over the same sequence (the reference
    conformance and check_corpus use: LiteRT's reference kernels for int8/uint8 models), within
    the check's tolerances. Where an integer model's outputs differ from the reference kernels
    but match LiteRT's builtin kernels, the two LiteRT kernel sets disagree (int8 SUM): the
    check passes and its numerics say so."""
    shapes = [t.shape for t in model.info.inputs]
    buf = Path(model.path).read_bytes()
    reference = litert_reference(buf, shapes, model.info.quantized)
    fails, lines, tolerances = _against(reference, steps, outputs, check)
    name = reference.name
    if fails and model.info.quantized:
        builtin = builtin_reference(buf, shapes)
        builtin_fails, builtin_lines, _ = _against(builtin, steps, outputs, check)
        if not builtin_fails:
            lines = [*builtin_lines, f"{reference.name} differ from LiteRT's builtin kernels: "
                     + fails[0].removeprefix("numerics: ")]  # fmt: skip
            name, fails = builtin.name, []
    for fail in fails:
        result.fail(fail)
    result.numerics += lines
    result.reference = f"vs {name}, tolerance {', '.join(tolerances)}"


def _against(
    reference: Reference, steps, outputs, check: Check
) -> tuple[list[str], list[str], dict[str, None]]:
    """(failures, one line per output and step, tolerances used) of `outputs` against
    `reference` run over the same steps."""
    fails, lines, tolerances = [], [], {}
    for step, (inputs, ours) in enumerate(zip(steps, outputs)):
        where = f"step {step} " if len(steps) > 1 else ""
        expected = reference.run(inputs)
        if len(ours) != len(expected):
            fails.append(f"numerics: {len(ours)} outputs, {reference.name} has {len(expected)}")
            break
        for i, (got, ref) in enumerate(zip(ours, expected)):
            got = np.asarray(got)
            if got.shape != ref.shape:
                fails.append(
                    f"numerics: {where}output {i} has shape {got.shape}, {reference.name} "
                    f"{ref.shape}"
                )
                continue
            agreed = agreement(got, ref)
            tol = check.atol if agreed.kind == "float" else check.max_lsb
            unit = "" if agreed.kind == "float" else " LSB"
            tolerances[f"{tol:g}{unit}" if unit else f"{tol:g} abs"] = None
            lines.append(f"{where}output {i}: {agreed.describe()}")
            if agreed.max_abs_diff > tol:
                fails.append(f"numerics: {where}output {i} differs from {reference.name} by "
                             f"{agreed.max_abs_diff:.3g}{unit} > tolerance {tol:g}{unit} "
                             f"({agreed.describe()})")  # fmt: skip
    return fails, lines, tolerances


def _baseline_facts(result: CheckResult) -> dict[str, object]:
    return {"emulated": result.emulated, **result.facts}
