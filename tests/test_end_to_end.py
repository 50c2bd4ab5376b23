"""tune -> build -> run -> compare on the host board, checked against LiteRT; resume semantics."""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from edgetune.frontend import load_model, read_tflite
from edgetune.frontend.tflite_import import random_inputs
from edgetune.oracle import LiteRTModel
from edgetune.paths import MODELS_DIR, REPO_DIR
from edgetune.runtime import read_artifact_meta

TRIALS = 8


def _records(folder) -> list[list]:
    path = folder / "database_tuning_record.json"
    return [json.loads(ln) for ln in path.read_text().splitlines() if ln.strip()]


def _trace_keys(folder) -> list[str]:
    return [json.dumps([r[0], r[1][0]]) for r in _records(folder)]


@pytest.mark.parametrize("name", ["tiny_fp32", "tiny_int8"])
def test_tune_build_run_compare_matches_litert(cli, tmp_path, name):
    recs, lib = tmp_path / "recs", tmp_path / f"{name}.so"
    result = cli("tune", name, "--trials", TRIALS, "--records", recs, "--json")
    assert result.code == 0, result.err
    report = json.loads(result.out)
    assert report["trials"] == TRIALS
    assert len(_records(recs)) == TRIALS == report["records_total"]
    assert report["records_valid"] >= 1
    assert 0 <= report["host_steal"] < 1  # the hypervisor's share while tuning (0: bare metal)
    assert report["others_cores"] >= 0  # and other processes'
    assert "trials]" in result.err  # progress lines
    final_ms = report["final"]["estimated_latency_ms"]  # the estimate of what build uses
    search_ms = report["search_estimated_latency_ms"]
    assert report["estimated_latency_ms"] == (search_ms if final_ms is None else final_ms)

    # the next steps tune and build print are the commands a user runs
    assert report["next"] == f"edgetune build {name} --records {recs} -o {name}.so"
    built = cli(*shlex.split(report["next"])[1:-1], lib)  # -o into tmp_path
    assert built.code == 0, built.err
    assert built.out.splitlines()[-1] == f"next: edgetune run {lib}"
    meta = read_artifact_meta(lib)
    assert meta.board == "host" and meta.model.name == name
    assert 1 <= meta.tuned_tasks <= meta.total_tasks

    _, info = read_tflite(MODELS_DIR / f"{name}.tflite")
    (x,) = random_inputs(info, seed=7)
    np.save(tmp_path / "in.npy", x)
    result = cli(
        "run",
        lib,
        "--input",
        tmp_path / "in.npy",
        "--output",
        tmp_path / "out.npy",
        "--repeat",
        5,
        "--json",
    )
    assert result.code == 0, result.err
    run_report = json.loads(result.out)
    assert run_report["latency"]["median_ms"] > 0 and run_report["latency"]["repeat"] == 5
    assert 0 <= run_report["host_steal"] < 1
    assert run_report["output"] == str(tmp_path / "out.npy") and not run_report["emulated"]
    ours = np.load(tmp_path / "out.npy")
    (reference,) = LiteRTModel(MODELS_DIR / f"{name}.tflite", threads=1)([x])
    assert ours.shape == reference.shape and ours.dtype == reference.dtype
    if name.endswith("fp32"):
        scale = np.abs(reference).max()
        assert np.abs(ours - reference).max() <= 1e-5 * scale
    else:
        assert np.abs(ours.astype(int) - reference.astype(int)).max() <= 1

    result = cli("compare", name, "--records", recs, "--rounds", 1, "--repeat", 5, "--json")
    assert result.code == 0, result.err
    comparison = json.loads(result.out)
    assert comparison["edgetune"]["median_ms"] > 0 and comparison["litert"]["median_ms"] > 0
    agreement = comparison["agreement"][0]
    if name.endswith("fp32"):
        assert agreement["kind"] == "float" and agreement["max_abs_diff"] <= 1e-5 * scale
    else:
        assert agreement["kind"] == "quantized" and agreement["max_abs_diff"] <= 1
        assert sum(agreement["lsb_histogram"].values()) == reference.size
        (exact,) = comparison["agreement_reference_kernels"]  # fixed-point: bit-exact with them
        assert exact["max_abs_diff"] == 0
    assert ("agreement_reference_kernels" in comparison) and (
        bool(comparison["agreement_reference_kernels"]) == name.endswith("int8")
    )


def test_rerun_measures_nothing_new_and_extends_without_duplicates(cli, tmp_path):
    recs = tmp_path / "recs"
    args = ["tune", "tiny_fp32", "--records", recs, "--final-top", 0]
    assert cli(*args, "--trials", TRIALS).code == 0
    first = (recs / "database_tuning_record.json").read_bytes()

    result = cli(*args, "--trials", TRIALS, "--json")
    assert result.code == 0 and json.loads(result.out)["trials"] == 0
    assert (recs / "database_tuning_record.json").read_bytes() == first

    result = cli(*args, "--trials", TRIALS + 4, "--json")
    new = json.loads(result.out)["trials"]
    assert new >= 4  # the budget is met in whole batches
    assert (recs / "database_tuning_record.json").read_bytes().startswith(first)
    keys = _trace_keys(recs)
    assert len(keys) == TRIALS + new == len(set(keys))  # nothing measured twice


def test_quiet_tune_prints_warnings_and_the_result_only(cli, tmp_path):
    """Without --quiet, tune prints each task's library status and the final phase's progress;
    with it, neither (the result still goes to stdout)."""
    args = ["tune", "tiny_fp32", "--trials", TRIALS, "--search", "ms"]
    loud = cli(*args, "--records", tmp_path / "loud")
    assert loud.code == 0
    assert any(line.startswith("  new ") for line in loud.err.splitlines())
    assert "final: " in loud.err
    quiet = cli(*args, "--records", tmp_path / "quiet", "--quiet")
    assert quiet.code == 0 and "estimated end-to-end" in quiet.out
    assert not any(line.startswith(("  new ", "  similar ", "  known ", "final: "))
                   for line in quiet.err.splitlines())  # fmt: skip


def test_a_budget_short_of_the_tasks_says_which_wait_and_a_resume_reaches_them(cli, tmp_path):
    """2 trials for tiny_fp32's 5 tasks: the result names the 4 tasks not measured (no
    estimate without them) and says how to reach them; tuning on to 12 trials (2 a task) does."""
    recs = tmp_path / "recs"
    args = ["tune", "tiny_fp32", "--records", recs, "--search", "ms", "--final-top", 0,
            "--per-round", 2]  # fmt: skip
    short = cli(*args, "--trials", 2, "--json")
    assert short.code == 0, short.err
    result = json.loads(short.out)
    assert result["estimated_latency_ms"] is None and len(result["tasks_not_yet_measured"]) == 4
    text = cli(*args, "--trials", 2)  # nothing left to measure: the same summary for a person
    assert "note: 4 tasks are not measured yet" in text.out and "more --trials" in text.out
    resumed = json.loads(cli(*args, "--trials", 12, "--json").out)
    assert resumed["tasks_not_yet_measured"] == [] and resumed["estimated_latency_ms"] > 0
    # a model of microseconds: its estimate leaves out the runtime's cost per kernel call
    again = cli(*args, "--trials", 12).out
    assert "note: an estimate is the sum of the kernels' times" in again


def test_interrupted_tune_keeps_records_and_resumes(tmp_path):
    """Ctrl-C during `edgetune tune`, then the same command again."""
    recs = tmp_path / "recs"
    cmd = [
        sys.executable,
        "-m",
        "edgetune",
        "tune",
        "tiny_fp32",
        "--trials",
        "200",
        "--records",
        str(recs),
        "--final-top",
        "0",
    ]
    env = {**os.environ, "PYTHONPATH": str(REPO_DIR)}
    proc = subprocess.Popen(
        cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True
    )
    path = recs / "database_tuning_record.json"
    deadline = time.time() + 400
    while time.time() < deadline and proc.poll() is None:
        if path.is_file() and len(path.read_text().splitlines()) >= 4:
            break
        time.sleep(0.5)
    assert proc.poll() is None, proc.stderr.read().decode()
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode != 0
    assert b"Traceback" not in err, err.decode()
    kept = _records(recs)  # every line parses: nothing half-written survives
    assert len(kept) >= 4

    budget = len(kept) + 4
    rerun = subprocess.run(
        [*cmd[:6], str(budget), *cmd[7:], "--json"], env=env, capture_output=True, timeout=600
    )
    assert rerun.returncode == 0, rerun.stderr.decode()
    new = json.loads(rerun.stdout)["trials"]
    assert new >= 4  # the budget is met in whole batches
    keys = _trace_keys(recs)
    assert len(keys) == len(kept) + new == len(set(keys))  # nothing measured twice


def test_damaged_last_record_is_moved_aside(tmp_path):
    from edgetune.board import load_board
    from edgetune.records import RecordStore

    _, info = read_tflite(MODELS_DIR / "tiny_fp32.tflite")
    store = RecordStore(tmp_path, info, load_board("host"))
    good = '[0, [[], ["1e-05"], {}, []]]\n'
    (tmp_path / "database_workload.json").write_text('["1", "kernel"]\n')  # what it names
    (tmp_path / "database_tuning_record.json").write_text(good + '[0, [[], ["2e-0')
    store = RecordStore(tmp_path, info, load_board("host"))
    assert (tmp_path / "database_tuning_record.json").read_text() == good
    assert "2e-0" in (tmp_path / "database_tuning_record.json.damaged").read_text()
    assert store.summary().records == 1


def test_readers_read_around_a_damaged_record_and_leave_the_folder_as_it_is(tmp_path, capsys):
    from edgetune.board import load_board
    from edgetune.records import TUNING_RECORDS, RecordStore
    from edgetune.tasks import for_model
    from edgetune.tvm_api import ms, s_tir

    model, board = load_model(MODELS_DIR / "tiny_fp32.tflite"), load_board("host")
    task = for_model(model, board).tasks[0]
    db = RecordStore(tmp_path, model.info, board).database()  # a writer makes the folder
    sch = s_tir.Schedule(task.mod)
    sch.get_sblock("root")
    workload = db.commit_workload(task.mod)
    db.commit_tuning_record(ms.database.TuningRecord(sch.trace, workload, [1e-5], board.target()))
    (tmp_path / "edgetune.lock").unlink(missing_ok=True)
    with open(tmp_path / TUNING_RECORDS, "a") as f:
        f.write('[0, [[], ["2e-0')  # a write cut short
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    capsys.readouterr()
    reader = RecordStore(tmp_path, model.info, board, create=False)
    assert reader.summary().records == 1
    assert reader.best_latency_s(task.mod) == pytest.approx(1e-5)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before  # nothing written
    assert "1 damaged line(s) (a write cut short) ignored" in capsys.readouterr().err


def test_records_whose_trace_names_other_blocks_are_left_out(tmp_path, capsys):
    """A record committed under a workload whose blocks its trace does not name (a kernel
    renamed since: tasks match workloads by anchor block alone) made MetaSchedule refuse the
    whole folder. Readers leave it out, writers move it to .stale; the other records stay."""
    from edgetune.board import load_board
    from edgetune.records import TUNING_RECORDS, RecordStore
    from edgetune.tasks import for_model
    from edgetune.tvm_api import ms, s_tir

    model, board = load_model(MODELS_DIR / "tiny_fp32.tflite"), load_board("host")
    tasks = for_model(model, board).tasks
    task = tasks[0]
    other = next(t for t in tasks if t.anchor != task.anchor)
    db = RecordStore(tmp_path, model.info, board).database()
    workload = db.commit_workload(task.mod)
    good = s_tir.Schedule(task.mod)
    good.get_sblock("root")
    db.commit_tuning_record(ms.database.TuningRecord(good.trace, workload, [1e-5], board.target()))
    foreign = s_tir.Schedule(other.mod)
    foreign.get_sblock(other.anchor)  # a block the task's kernel does not have
    record = ms.database.TuningRecord(foreign.trace, workload, [2e-6], board.target())
    db.commit_tuning_record(record)
    (tmp_path / "edgetune.lock").unlink(missing_ok=True)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    capsys.readouterr()
    reader = RecordStore(tmp_path, model.info, board, create=False)
    assert reader.best_latency_s(task.mod) == pytest.approx(1e-5)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before  # nothing written
    assert "1 record(s) whose schedule no longer applies to its kernel ignored" in (
        capsys.readouterr().err
    )
    writer = RecordStore(tmp_path, model.info, board)
    assert writer.best_latency_s(task.mod) == pytest.approx(1e-5)
    assert len((tmp_path / TUNING_RECORDS).read_text().splitlines()) == 1
    assert other.anchor in (tmp_path / (TUNING_RECORDS + ".stale")).read_text()


def test_build_for_rpi3_cross_compiles_aarch64(cli, tmp_path):
    lib = tmp_path / "tiny_int8_rpi3.so"
    result = cli("build", "tiny_int8", "--board", "rpi3", "-o", lib)
    assert result.code == 0, result.err
    header = lib.read_bytes()[:20]
    assert header[:4] == b"\x7fELF" and header[4] == 2  # 64-bit ELF
    assert int.from_bytes(header[18:20], "little") == 183  # EM_AARCH64
    meta = read_artifact_meta(lib)
    assert meta.board == "rpi3" and "cortex-a53" in meta.target


def test_boards_lists_host_and_rpi3(cli):
    result = cli("boards", "--json")
    boards = {b["name"]: b for b in json.loads(result.out)}
    assert boards["host"]["connection"] == "local"
    assert boards["rpi3"]["cores"] == 4 and "cortex-a53" in boards["rpi3"]["target"]
    timings = {name: b["timings"] for name, b in boards.items()}  # the emulated ones are said
    assert timings["qemu-a53"] == timings["mali-pocl"] == "EMULATED"
    assert timings["host"] == timings["rpi3"] == "the board's"
    assert "EMULATED" in cli("boards").out


def test_demo_runs_the_whole_flow_in_its_own_workdir_and_library(tmp_path):
    """`edgetune demo` (the README's first command): tasks, tune, build, run, compare, all in
    --workdir, with a records library of its own: the user's library is neither read nor
    added to."""
    users = tmp_path / "users-library"
    env = {**os.environ, "PYTHONPATH": str(REPO_DIR), "EDGETUNE_LIBRARY": str(users)}
    work = tmp_path / "demo"
    done = subprocess.run([sys.executable, "-m", "edgetune", "demo", "--trials", "4",
                           "--workdir", str(work)], env=env, capture_output=True, text=True,
                          timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert "demo done: records in" in done.stderr and "edgetune / LiteRT latency" in done.stdout
    assert (work / "tiny_int8.so").is_file() and list((work / "library").glob("*/*.json"))
    manifest = json.loads((work / "records" / "edgetune-records.json").read_text())
    assert all(str(work / "library") in lib for lib in manifest.get("library_synced", {}))
    assert not users.exists()


def test_tasks_lists_weights_flops_and_anchor(cli):
    result = cli("tasks", "tiny_fp32", "--json")
    data = json.loads(result.out)
    tasks, totals = data["tasks"], data["totals"]
    assert totals["tasks"] == len(tasks) and totals["calls"] == sum(t["weight"] for t in tasks)
    assert totals["families"] == len({t["family"] for t in tasks})
    assert totals["mflops"] == round(sum(t["flops"] * t["weight"] for t in tasks) / 1e6, 3)
    assert f"{len(tasks)} tasks in {totals['families']} families" in cli("tasks", "tiny_fp32").out
    anchors = {t["anchor"] for t in tasks}
    assert {"conv2d_nhwc", "matmul"} <= anchors
    assert all(t["weight"] >= 1 and t["flops"] >= 0 for t in tasks)
    conv = [t for t in tasks if t["anchor"] == "conv2d_nhwc"]
    # 3x3 stride-2 conv 3->16 on 32x32 (16x16 out): 2*16*16*16*27 multiply-adds
    assert max(t["flops"] for t in conv) >= 2 * 16 * 16 * 16 * 27


def test_one_output_goes_to_the_file_the_path_names(tmp_path):
    """`run --output y.npz` with one output writes y.npz (output_0), not y.npz.npy."""
    from edgetune.runtime.inputs import save_outputs

    y = np.arange(6, dtype=np.int8).reshape(2, 3)
    save_outputs(tmp_path / "y.npz", [y])
    save_outputs(tmp_path / "z.npy", [y])
    with np.load(tmp_path / "y.npz") as archive:
        assert list(archive) == ["output_0"] and np.array_equal(archive["output_0"], y)
    assert np.array_equal(np.load(tmp_path / "z.npy"), y)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["y.npz", "z.npy"]


def test_litert_banner_is_dropped_and_its_other_lines_kept(capfd):
    """LiteRT's C++ INFO line ("Created TensorFlow Lite XNNPACK delegate for CPU.") never
    reaches the user; anything else written to stderr meanwhile (its warnings) does."""
    from edgetune.oracle.litert import _info_lines_dropped

    LiteRTModel(MODELS_DIR / "tiny_fp32.tflite", threads=1)
    assert "INFO: " not in capfd.readouterr().err
    with _info_lines_dropped():
        os.write(2, b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\n")
        os.write(2, b"WARNING: a warning of LiteRT's\n")
    assert capfd.readouterr().err == "WARNING: a warning of LiteRT's\n"


def test_compare_labels_each_agreement_of_a_quantized_model():
    """An int8 model is compared twice (LiteRT's default kernels as timed, its reference
    kernels): the first agreement lines were unlabelled, the second said what they were."""
    from edgetune.oracle import comparison_lines

    timed = {"median_ms": 1.0, "p90_ms": 1.1, "min_ms": 0.9, "rounds": 1, "repeat": 3}
    result = {"model": "m", "board": "host", "threads": 2, "tuned_tasks": 1, "total_tasks": 1,
              "edgetune": timed, "litert": timed, "latency_vs_litert": 1.0, "timing_notes": [],
              "reference": "LiteRT", "agreement": [{"describe": "max 3 LSB"}],
              "agreement_reference_kernels": [{"describe": "max 0 LSB"}]}  # fmt: skip
    lines = comparison_lines(result)
    first = lines.index("output 0: max 3 LSB")
    assert lines[first - 1] == "against LiteRT as timed above (its default kernels):"
    assert lines[-2].endswith("against LiteRT's reference kernels:")
    assert lines[-1] == "output 0: max 0 LSB"
    del result["agreement_reference_kernels"]  # one agreement: no heading needed
    assert "against LiteRT as timed above" not in "\n".join(comparison_lines(result))
