"""The final phase of `tune`: each task's top candidates re-measured together, the fastest kept in
`final-choices.jsonl` and applied by builds; resumable, interruptible, off with --final-top 0."""

from __future__ import annotations

import json
import os
import shutil
import signal
import time

import numpy as np
import pytest

from edgetune import stop
from edgetune.board import load_board
from edgetune.compile.library import build_model
from edgetune.frontend import load_model
from edgetune.frontend.tflite_import import random_inputs
from edgetune.oracle import LiteRTModel
from edgetune.paths import MODELS_DIR
from edgetune.records import RecordStore, best_latency_in, database_of, workload_hash
from edgetune.records.layout import FINAL_CHOICES, TUNING_RECORDS
from edgetune.runtime.local import load_executable
from edgetune.search import final, tune_model
from edgetune.search.schedule_key import schedule_key
from edgetune.tasks import for_model

NAME = "tiny_fp32"
TRIALS = 8  # its two largest convs, 4 candidates each (searching every task costs a minute)
SEARCH = {"search": "ms", "per_round": 4, "on_batch": lambda _progress: None}


def _largest(model, board, n: int = 2) -> list:
    return sorted(for_model(model, board).tasks, key=lambda t: -t.flops)[:n]


@pytest.fixture(scope="module")
def searched(tmp_path_factory):
    """A records folder after the search alone (--final-top 0) of the two largest tasks."""
    folder = tmp_path_factory.mktemp("searched") / "recs"
    model, board = load_model(MODELS_DIR / f"{NAME}.tflite"), load_board("host")
    names = {t.name for t in _largest(model, board)}
    result = tune_model(model, board, RecordStore(folder, model.info, board), TRIALS, seed=0,
                        final_top=0, task_filter=lambda t: t.name in names, **SEARCH)  # fmt: skip
    assert result.final is None and result.progress.tasks_measured == len(result.tasks) == 2
    return folder


@pytest.fixture
def recs(searched, tmp_path):
    """A copy of the searched folder for one test to change."""
    folder = tmp_path / "recs"
    shutil.copytree(searched, folder, ignore=shutil.ignore_patterns("edgetune.lock"))
    return folder


def _open(folder, create=True):
    model, board = load_model(MODELS_DIR / f"{NAME}.tflite"), load_board("host")
    return model, board, RecordStore(folder, model.info, board, create=create)


def _lines(folder) -> list[dict]:
    return [json.loads(ln) for ln in (folder / FINAL_CHOICES).read_text().splitlines()]


def _assert_matches_litert(model, board, store, tuned: int = 2) -> None:
    """The model built with the store's records (`tuned` tasks of them) matches LiteRT."""
    built = build_model(model, board, store)
    assert built.tuned == tuned
    inputs = random_inputs(model.info, seed=3)
    (ours,) = load_executable(built.exe, board.hardware.cores, info=model.info)(inputs)
    (reference,) = LiteRTModel(model.path, threads=1)(inputs)
    assert np.abs(ours - reference).max() <= 1e-5 * np.abs(reference).max()


def test_final_top_0_builds_with_the_search_best(recs):
    model, board, store = _open(recs, create=False)
    assert not (recs / FINAL_CHOICES).exists()
    assert database_of(store) is store.database()  # the tuning records alone, as before
    lines = (recs / TUNING_RECORDS).read_text().splitlines()
    means = [sum(secs) / len(secs) for secs in (json.loads(ln)[1][1] for ln in lines)]
    for task in _largest(model, board):
        assert store.best_latency_s(task.mod) in means


def test_rerun_does_only_the_final_phase_and_reports_it(cli, recs):
    before = (recs / TUNING_RECORDS).read_bytes()
    args = ["tune", NAME, "--trials", TRIALS, "--records", recs, "--search", "ms"]
    result = cli(*args, "--json")
    assert result.code == 0, result.err
    report = json.loads(result.out)
    assert report["trials"] == 0 and (recs / TUNING_RECORDS).read_bytes() == before
    phase = report["final"]
    assert phase["top"] == final.FINAL_TOP and phase["tasks_remeasured"] == 2
    assert phase["builds_reused"] == 0  # an earlier run's records: built again
    lines = _lines(recs)
    tuned = [t for t in phase["tasks"] if t["chosen"] is not None]
    assert sorted(e["task"] for e in lines) == sorted(t["name"] for t in tuned)  # one per task
    assert len(tuned) == 2 and len(phase["tasks"]) == len(report["tasks"]) == 5
    assert phase["estimated_latency_ms"] is None  # 3 tasks were never tuned
    for task in tuned:  # tiny_fp32's tasks are each alone in their family: own candidates only
        assert 1 <= len(task["candidates"]) <= final.FINAL_TOP
        assert not any("from" in c for c in task["candidates"])
        assert all(c["final_us"] > 0 for c in task["candidates"])
        chosen = task["candidates"][task["chosen"]]
        assert chosen["final_us"] == min(c["final_us"] for c in task["candidates"])
    model, board, store = _open(recs, create=False)
    by_hash = {e["workload"]: e for e in lines}
    for task in _largest(model, board):  # builds see the re-measured choices
        entry = by_hash[workload_hash(task.mod)]
        secs = entry["record"][1]
        assert store.best_latency_s(task.mod) == pytest.approx(sum(secs) / len(secs))
        assert entry["candidates"][entry["chosen"]]["final_us"] == pytest.approx(
            sum(secs) / len(secs) * 1e6
        )

    again = cli(*args)  # every choice is current: nothing is re-measured
    assert again.code == 0, again.err
    assert (
        "final: top 3 re-measured (up to 10 rounds, 0 search builds reused) for 0 tasks"
        in again.out
    )
    assert "2/5 tasks have a final choice" in again.out
    assert len(_lines(recs)) == 2


def test_a_record_fast_only_in_the_search_loses_the_remeasurement(recs):
    """A schedule whose search record claims 1 ns (e.g. timed while the rest were slowed down by
    another process) is the search's best; re-measured with the others it loses, and the build
    applies the winner and matches LiteRT."""
    from edgetune.tvm_api import ms, s_tir

    model, board, store = _open(recs)
    task = _largest(model, board)[0]  # untuned, it is far slower than tuned
    db = store.database()
    sch = s_tir.Schedule(task.mod)
    sch.get_sblock("root")
    args_info = ms.arg_info.ArgInfo.from_prim_func(task.mod["main"])
    record = ms.database.TuningRecord(sch.trace, db.commit_workload(task.mod), [1e-9],
                                      board.target(), args_info)  # fmt: skip
    db.commit_tuning_record(record)
    assert store.best_latency_s(task.mod) == pytest.approx(1e-9)  # what --final-top 0 builds

    result = tune_model(model, board, store, TRIALS, **SEARCH)
    assert result.progress.trials == 0
    entry = next(e for e in _lines(recs) if e["task"] == task.name)
    injected = entry["candidates"][0]
    assert injected["search_us"] == pytest.approx(1e-3)
    assert entry["chosen"] != 0 and result.final.changed >= 1
    assert entry["candidates"][entry["chosen"]]["final_us"] < injected["final_us"]
    applied = database_of(store).query_tuning_record(task.mod, board.target(), "main")
    assert str(applied.trace) != str(sch.trace)
    assert best_latency_in(database_of(store), task.mod) * 1e6 == pytest.approx(
        entry["candidates"][entry["chosen"]]["final_us"]
    )
    _assert_matches_litert(model, board, RecordStore(recs, model.info, board, create=False))


def test_interrupted_final_phase_keeps_a_valid_folder_and_resumes(recs, monkeypatch, capsys):
    model, board, store = _open(recs)
    monkeypatch.setattr(final, "CHUNK", 1)  # one task per batch

    def ctrl_c(line: str) -> None:
        if "[1/" in line:  # the first task's choice is written
            os.kill(os.getpid(), signal.SIGINT)
            while not stop.requested():  # the handler runs on the main thread's next check
                time.sleep(0.01)

    with pytest.raises(KeyboardInterrupt):
        tune_model(model, board, store, TRIALS, printer=ctrl_c, **SEARCH)
    (first,) = _lines(recs)

    with open(recs / FINAL_CHOICES, "a") as f:
        f.write('{"task": "cut sho')  # a kill during a write
    files = {p.name: p.read_bytes() for p in recs.iterdir() if p.is_file()}
    capsys.readouterr()
    _, _, reader = _open(recs, create=False)
    measured = [reader.best_latency_s(t.mod) for t in _largest(model, board)]
    assert all(m is not None for m in measured)  # 1 final choice, 1 search record
    assert first["workload"] in reader.final_choices()
    assert "final-choices.jsonl: 1 damaged line(s)" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in recs.iterdir() if p.is_file()} == files

    result = tune_model(model, board, RecordStore(recs, model.info, board), TRIALS, **SEARCH)
    assert result.final.measured == 1  # only the task without a choice
    assert len(_lines(recs)) == 2
    assert "cut sho" in (recs / (FINAL_CHOICES + ".damaged")).read_text()


def test_final_phase_measures_on_a_farm_board(tmp_path):
    """On an rpc board (a tracker and a host rpc server started here) the candidates are
    re-measured through the board's runner, and builds apply the winner."""
    from farm_support import env_vars, host_board_text, write_board
    from tflite_builder import fully_connected

    from edgetune.farm import strategies
    from edgetune.farm.drivers.rpc_server import free_port
    from edgetune.search.final import final_phase
    from edgetune.tvm_api import ms, s_tir

    name = "finalfarm"
    write_board(tmp_path / "boards", name, host_board_text(name, free_port(), count=1))
    model = load_model(fully_connected(tmp_path / "fc.tflite", 64))
    with env_vars(EDGETUNE_BOARDS=str(tmp_path / "boards"), EDGETUNE_FARM_DIR=str(tmp_path / "s")):
        board = load_board(name)
        (task,) = for_model(model, board).tasks
        store = RecordStore(tmp_path / "recs", model.info, board)
        db, work = store.database(), store.database().commit_workload(task.mod)
        args_info = ms.arg_info.ArgInfo.from_prim_func(task.mod["main"])
        traces = []
        for parallel, secs in ((False, 1e-9), (True, 1e-3)):  # plain loops, or parallel ones
            sch = s_tir.Schedule(task.mod)
            block = sch.get_child_blocks(sch.get_sblock("root"))[0]
            if parallel:
                sch.parallel(sch.get_loops(block)[1])
            traces.append(str(sch.trace))
            record = ms.database.TuningRecord(sch.trace, work, [secs], board.target(), args_info)
            db.commit_tuning_record(record)
        try:
            strategies.bring_up(board)
            phase = final_phase([task], store, board, 2)
        finally:
            strategies.down()
    (entry,) = phase.entries
    assert board.connection.kind == "rpc" and phase.measured == 1
    finals = [c["final_us"] for c in entry["candidates"]]
    assert all(f is not None and f > 0 for f in finals) and len(finals) == 2
    assert finals[entry["chosen"]] == min(finals)
    applied = database_of(store).query_tuning_record(task.mod, board.target(), "main")
    assert str(applied.trace) == traces[entry["chosen"]]
    assert store.best_latency_s(task.mod) * 1e6 == pytest.approx(min(finals))


def test_a_fresh_build_reads_a_tensorized_final_choice(tmp_path):
    """`edgetune build` in a new process reads a final choice whose trace names a tensor
    intrinsic (registered before the choices are read back), and the model matches LiteRT."""

    from int8_support import built_in_fresh_process_matches_litert, tensorized_records

    from edgetune.search.final import final_phase

    board = load_board("host")
    model, task, store = tensorized_records(board, tmp_path / "recs", 1.0)
    (entry,) = final_phase([task], store, board, 3).entries
    assert "tensorize" in json.dumps(entry["record"]) and entry["chosen"] == 0
    assert 0 < entry["candidates"][0]["final_us"] < 1e6  # re-measured, not the 1 s recorded

    out = tmp_path / "probe.so"
    built_in_fresh_process_matches_litert(model.path, store.path, model, board, out)


def _two_dense(path):
    """x (1 x 512) -> FULLY_CONNECTED 1024 -> FULLY_CONNECTED 256: two tasks of one family."""
    from tflite_builder import Op, Tensor, write

    rng = np.random.default_rng(5)
    w1 = rng.standard_normal((1024, 512)).astype(np.float32) / 16
    w2 = rng.standard_normal((256, 1024)).astype(np.float32) / 16
    tensors = [Tensor("x", (1, 512)), Tensor("w1", (1024, 512), data=w1), Tensor("h", (1, 1024)),
               Tensor("w2", (256, 1024), data=w2), Tensor("y", (1, 256))]  # fmt: skip
    ops = [Op("FULLY_CONNECTED", [0, 1, -1], [2], "FullyConnectedOptions"),
           Op("FULLY_CONNECTED", [2, 3, -1], [4], "FullyConnectedOptions")]  # fmt: skip
    return write(path, tensors, ops, [0], [4])


def _recorded_as_written(store, task, board) -> None:
    """Record `task` as written (plain loops) in the store: a trace of one instruction (an empty
    one is never ranked), 1 ms."""
    from edgetune.tvm_api import ms, s_tir

    db, as_written = store.database(), s_tir.Schedule(task.mod)
    as_written.get_sblock("root")
    args_info = ms.arg_info.ArgInfo.from_prim_func(task.mod["main"])
    work = db.commit_workload(task.mod)
    db.commit_tuning_record(
        ms.database.TuningRecord(as_written.trace, work, [1e-3], board.target(), args_info)
    )


def _member_won(entry, store, task, source: str) -> None:
    """The task's final choice is the one candidate from `source` (a member or the library),
    re-measured faster than its own schedule, and is what builds apply."""
    (member,) = [c for c in entry["candidates"] if "from" in c]
    assert member["from"].startswith(source) and member["search_us"] is None
    assert entry["candidates"][entry["chosen"]] == member
    assert 0 < member["final_us"] < entry["candidates"][0]["final_us"]
    assert store.best_latency_s(task.mod) * 1e6 == pytest.approx(member["final_us"])


def test_a_family_members_schedule_is_remeasured_and_wins(tmp_path):
    """A task recorded only as written (plain loops) gets its family member's tuned schedule,
    replayed on its own shapes, as one more candidate; re-measured with its own, it wins (a
    reduction run as one scalar chain is far slower), and builds apply it and match LiteRT."""
    from edgetune.search.final import final_phase

    path = _two_dense(tmp_path / "dense2.tflite")
    model, board = load_model(path), load_board("host")
    tuned, plain = sorted(for_model(model, board).tasks, key=lambda t: -t.flops)
    assert tuned.family == plain.family == "matmul-float32"
    store = RecordStore(tmp_path / "recs", model.info, board)
    tune_model(model, board, store, TRIALS, seed=0, final_top=0,
               task_filter=lambda t: t.name == tuned.name, **SEARCH)  # fmt: skip
    _recorded_as_written(store, plain, board)

    phase = final_phase([tuned, plain], store, board, final.FINAL_TOP)
    _member_won(phase.entries[1], store, plain, tuned.name)
    assert phase.from_family == 1 and phase.from_library == 0
    assert phase.to_json()["choices_from_family"] == 1
    _assert_matches_litert(model, board, store)


def test_a_library_schedule_of_another_model_is_remeasured_and_wins(tmp_path):
    """A tune whose task the records library knows only in another shape (another model's
    layer) re-measures the library's schedule, replayed on its shapes, in its final phase; it
    wins against the task's plain loops, and builds apply it and match LiteRT."""
    from edgetune.records import open_library

    path = _two_dense(tmp_path / "dense2.tflite")
    model, board = load_model(path), load_board("host")
    tuned, plain = sorted(for_model(model, board).tasks, key=lambda t: -t.flops)
    library = open_library(tmp_path / "lib", board)
    first = RecordStore(tmp_path / "first", model.info, board)  # "another model": its big layer
    tune_model(model, board, first, TRIALS, seed=0, final_top=0, library=library,
               task_filter=lambda t: t.name == tuned.name, **SEARCH)  # fmt: skip
    store = RecordStore(tmp_path / "recs", model.info, board)
    _recorded_as_written(store, plain, board)

    result = tune_model(model, board, store, 1, library=library, final_top=final.FINAL_TOP,
                        task_filter=lambda t: t.name == plain.name, **SEARCH)  # fmt: skip
    assert result.progress.trials == 0  # nothing searched: the final phase alone
    (entry,) = result.final.entries
    _member_won(entry, store, plain, final.LIBRARY)
    assert result.final.from_library == result.final.from_family == 1
    assert result.to_json()["final"]["choices_from_library"] == 1
    _assert_matches_litert(model, board, store, tuned=1)


class _Runner:
    """A stand-in runner: each artifact's latency from `speed`; counts the runs of each."""

    def __init__(self, speed: dict[str, float]):
        self.speed, self.runs = speed, dict.fromkeys(speed, 0)

    def run(self, inputs):
        from types import SimpleNamespace

        out = []
        for inp in inputs:
            name = os.path.basename(os.path.dirname(inp.artifact_path))
            self.runs[name] += 1
            result = SimpleNamespace(run_secs=[self.speed[name]] * 4, error_msg=None)
            out.append(SimpleNamespace(result=lambda r=result: r))
        return out


def test_the_rounds_race_stops_timing_clearly_slower_candidates(tmp_path):
    """After RACE_ROUNDS rounds a candidate over RACE_MARGIN x its task's fastest is not timed
    again (and keeps its rounds); one within the margin is timed every round, so is every
    candidate of another task, whatever its speed against this one's."""
    from types import SimpleNamespace

    from edgetune.tvm_api import ms

    board = load_board("host")
    task = _largest(load_model(MODELS_DIR / f"{NAME}.tflite"), board, 1)[0]
    names = ["fast", "close", "slow", "other"]
    speed = {"fast": 1e-4, "close": 1.2e-4, "slow": 1.4e-4, "other": 1e-2}
    cands = {
        n: final.Candidate(
            None, SimpleNamespace(sch=SimpleNamespace(mod=task.mod), args_info=[]), n, None
        )  # fmt: skip
        for n in names
    }

    class Builder:
        def build(self, inputs):
            assert len(inputs) == len(names)
            return [ms.builder.BuilderResult(str(tmp_path / n / "x.so"), None) for n in names]

    for n in names:
        (tmp_path / n).mkdir()
    runner = _Runner(speed)
    first = [cands["fast"], cands["close"], cands["slow"]]
    groups = [(task.mod, first), (task.mod, [cands["other"]])]
    final._remeasure(groups, Builder(), runner, board)
    rounds, race = final.ROUNDS, final.RACE_ROUNDS
    assert runner.runs == {"fast": rounds, "close": rounds, "slow": race, "other": rounds}
    assert len(cands["slow"].rounds) == race and cands["slow"].final_s == pytest.approx(1.4e-4)
    assert min(groups[0][1], key=lambda c: c.final_s) is cands["fast"]
    assert not any((tmp_path / n).exists() for n in names)  # the artifacts are removed


def test_the_final_phase_reuses_the_searchs_builds_and_leaves_none(tmp_path, monkeypatch):
    """In a tune that searches, the final phase takes the search's builds of the task's own top
    candidates instead of building them again; no build is left on disk afterwards."""
    from tflite_builder import fully_connected

    builds = tmp_path / "builds"  # where the build workers (started by this tune) write
    builds.mkdir()
    monkeypatch.setenv("TMPDIR", str(builds))
    model, board = load_model(fully_connected(tmp_path / "fc.tflite", 64)), load_board("host")
    store = RecordStore(tmp_path / "recs", model.info, board)
    result = tune_model(model, board, store, TRIALS, seed=0, **SEARCH)
    assert result.progress.trials == TRIALS
    (entry,) = result.final.entries
    own = [c for c in entry["candidates"] if "from" not in c]
    assert len(own) == final.FINAL_TOP and result.final.reused == len(own)
    assert result.final.to_json()["builds_reused"] == len(own)
    assert not list(builds.iterdir())


def test_a_choice_made_after_a_search_is_current_for_the_next_run(tmp_path):
    """The final choice a searching run writes names its candidates as any later process reads
    them back from the folder (in memory a trace's annotations are booleans, on disk integers, and
    the scheduled modules hash apart): the next run finds the choice current, re-measures
    nothing, and a build applies it."""
    from tflite_builder import fully_connected

    model, board = load_model(fully_connected(tmp_path / "fc.tflite", 64)), load_board("host")
    folder = tmp_path / "recs"
    first = tune_model(model, board, RecordStore(folder, model.info, board), TRIALS, **SEARCH)
    assert first.final.measured == 1 and first.final.reused == final.FINAL_TOP
    again = tune_model(model, board, RecordStore(folder, model.info, board), TRIALS, **SEARCH)
    assert again.progress.trials == 0 and again.final.measured == 0
    assert again.final.entries == first.final.entries and len(_lines(folder)) == 1
    _assert_matches_litert(model, board, RecordStore(folder, model.info, board, False), tuned=1)


def test_kept_builds_are_found_by_task_and_schedule_not_schedule_alone(tmp_path):
    """Two tasks whose schedules read alike (a trace names blocks and decisions, not shapes:
    MediaPipe's two reshape + concatenate kernels) each get their own build back."""
    from types import SimpleNamespace

    from edgetune.search.kept_builds import KeptBuilds
    from edgetune.tvm_api import ms

    board = load_board("host")
    big, small = _largest(load_model(MODELS_DIR / f"{NAME}.tflite"), board, 2)
    trace = SimpleNamespace(simplified=lambda remove_postproc: "the same schedule text")
    scheduler = SimpleNamespace(
        tasks_=[SimpleNamespace(ctx=SimpleNamespace(mod=m)) for m in (big.mod, small.mod)]
    )
    kept = KeptBuilds(top=1)
    for task_id in (0, 1):
        path = tmp_path / f"build{task_id}"
        path.mkdir()
        kept._inst.apply(  # the Python callback itself (MetaSchedule calls it through the FFI)
            scheduler,
            task_id,
            [SimpleNamespace(sch=SimpleNamespace(trace=trace))],
            [ms.builder.BuilderResult(str(path / "x.so"), None)],
            [SimpleNamespace(run_secs=[1e-4], error_msg=None)],
        )
    key = schedule_key(trace)
    assert kept.take(small.mod, key) == str(tmp_path / "build1" / "x.so")
    assert kept.take(big.mod, key) == str(tmp_path / "build0" / "x.so")
    assert kept.take(big.mod, key) is None  # taken once
