"""The records library: written by tune under its key, reused with zero trials by a second model,
similar tasks seeded from their family, other keys refused, concurrent writers safe."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from dataclasses import replace

import pytest
from tflite_builder import fully_connected

from edgetune.board import load_board
from edgetune.cli.main import build_parser
from edgetune.cli.resume import interrupted
from edgetune.compile import build_model
from edgetune.compile.library import compile_with_records
from edgetune.frontend import load_model
from edgetune.frontend.retrain import with_other_weights
from edgetune.paths import MODELS_DIR
from edgetune.records import (
    MANIFEST,
    TUNING_RECORDS,
    Library,
    RecordStore,
    applicable_database,
    best_latency_in,
    database_of,
    open_library,
    workload_hash,
)
from edgetune.records import library as library_module
from edgetune.records.library import LIBRARY_MANIFEST
from edgetune.search import library_start, tune_model
from edgetune.search.family import FamilyCostModel
from edgetune.search.family.cost_model import POOLED
from edgetune.search.final import FINAL_TOP
from edgetune.tasks import for_model

POINTWISE = "conv2d_nhwc-k1x1-s1-float32"
TINY_TASK = "fused_conv2d2_add_add1_tir_clip"  # tiny_fp32's pointwise conv (cheap to build)


def _board():
    board = load_board("host")  # generous build timeout: a busy shared host must not fail builds
    return replace(board, measure=replace(board.measure, build_timeout_s=600))


def tiny_v2(folder):
    """tiny_fp32 retrained: the same network, other weights."""
    return with_other_weights(MODELS_DIR / "tiny_fp32.tflite", folder / "tiny_v2.tflite")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """tiny_fp32's pointwise conv tuned (4 trials) into a fresh library."""
    root = tmp_path_factory.mktemp("tiny")
    board = _board()
    model = load_model(MODELS_DIR / "tiny_fp32.tflite")
    library = open_library(root / "lib", board)
    store = RecordStore(root / "recs", model.info, board)
    result = tune_model(model, board, store, 4, seed=0, library=library,
                        task_filter=lambda t: t.name == TINY_TASK)  # fmt: skip
    return root, board, model, library, store, result


def test_tune_writes_the_library_under_its_key(tiny):
    root, board, model, library, store, result = tiny
    import tvm

    assert result.progress.trials == 4 and result.added == 4
    assert library.path.parent == root / "lib" and library.path.name.startswith("host-")
    data = json.loads((library.path / LIBRARY_MANIFEST).read_text())
    assert data["key"]["target"] == str(board.target())
    assert data["key"]["tvm"] == tvm.__version__ and data["key"]["toolchain"]["cc"] == "gcc"
    (task,) = [t for t in result.tasks if t.name == TINY_TASK]
    entry = data["workloads"][workload_hash(task.mod)]
    assert entry["family"] == POINTWISE and entry["records"] == 4
    assert entry["trials_per_task"] == 4  # the folder's 4 records over its 1 task
    assert entry["best_s"] == pytest.approx(best_latency_in(store.database(), task.mod))
    lines = (library.path / TUNING_RECORDS).read_text().splitlines()
    assert len(lines) == 4 and all(json.loads(line) for line in lines)
    # adding the same folder again adds nothing
    assert library.add(store) == 0


def test_a_tune_grown_on_one_task_raises_trials_per_task_of_all_it_holds(tmp_path):
    """trials_per_task is the folder's tune size (records / tasks): resumed on one task, the
    other task's entry grows too (it kept the first run's size, and was searched again)."""
    board, model = _board(), load_model(MODELS_DIR / "tiny_fp32.tflite")
    other = next(t.name for t in for_model(model, board).tasks if t.name != TINY_TASK)
    library = open_library(tmp_path / "lib", board)
    store = RecordStore(tmp_path / "recs", model.info, board)
    for trials, names in ((4, {TINY_TASK, other}), (8, {TINY_TASK})):
        tune_model(model, board, store, trials, seed=0, library=library, final_top=0,
                   task_filter=lambda t, names=names: t.name in names)  # fmt: skip
    workloads = json.loads((library.path / LIBRARY_MANIFEST).read_text())["workloads"]
    per_task = store.summary().records // 2
    assert per_task >= 4
    assert sorted(w["trials_per_task"] for w in workloads.values()) == [per_task, per_task]


def test_retrained_model_reuses_the_task_with_zero_trials(tiny, tmp_path):
    _, board, model, library, store, _ = tiny
    other = load_model(tiny_v2(tmp_path))
    assert other.info.sha256 != model.info.sha256
    store2 = RecordStore(tmp_path / "recs2", other.info, board)
    result = tune_model(other, board, store2, 4, seed=0, library=library,
                        task_filter=lambda t: t.name == TINY_TASK)  # fmt: skip
    assert result.progress.trials == 0 and result.library.status == ["known"]
    # its 3 best of the library's 4 records, re-ranked by the final phase as the first tune did
    assert result.library.reused == FINAL_TOP == 3 and store2.summary().reused == 3
    assert store2.summary().measured == 0
    (task,) = result.tasks
    assert best_latency_in(store2.database(), task.mod) == best_latency_in(
        store.database(), task.mod
    )
    built = build_model(other, board, store2)
    assert built.tuned == 1  # the build applies the library's record
    again = tune_model(other, board, store2, 4, library=library,
                       task_filter=lambda t: t.name == TINY_TASK)  # fmt: skip
    assert again.progress.trials == 0 and again.library.reused == 0  # not copied twice


def test_a_known_task_the_library_barely_measured_is_searched(tiny, tmp_path):
    """The library measured the task 4 times; a run that can give it 5 trials searches it (the
    library's best of 4 is no tuned kernel: session 6 reused such a record at 2.4x the latency
    the run without library reached) and starts from the library's records."""
    _, board, model, library, _, _ = tiny
    other = load_model(tiny_v2(tmp_path))
    store = RecordStore(tmp_path / "recs", other.info, board)
    printed: list[str] = []
    result = tune_model(other, board, store, 5, seed=0, library=library, printer=printed.append,
                        task_filter=lambda t: t.name == TINY_TASK)  # fmt: skip
    assert result.library.status == ["known"] and result.library.skip == [False]
    assert result.library.reused == 0 and store.summary().reused == 0
    assert result.progress.trials == 5 and store.summary().measured == 5
    status_lines = [line for line in printed if line.startswith("  known")]
    assert status_lines == [
        f"  known    {TINY_TASK} (searched; the library measured it 4 times, in a tune of 4 "
        "trials per task)"
    ]
    assert result.search["seeded"][TINY_TASK] >= 1  # its own library traces


def test_a_known_task_from_a_tune_as_thorough_is_reused(tiny, tmp_path):
    """Measured 4 times, but in a tune that gave its tasks 5 trials on average (its scheduler
    spent the rest elsewhere): a run that can give it 5 reuses it, as a retrained model tuned
    with the same budget reuses every task."""
    _, board, model, library, _, _ = tiny
    shutil.copytree(library.path, tmp_path / "lib")
    manifest = tmp_path / "lib" / LIBRARY_MANIFEST
    data = json.loads(manifest.read_text())
    (entry,) = data["workloads"].values()
    entry["trials_per_task"] = 5
    manifest.write_text(json.dumps(data))
    other = load_model(tiny_v2(tmp_path))
    store, thorough = RecordStore(tmp_path / "recs", other.info, board), tmp_path / "lib"
    result = tune_model(other, board, store, 5, seed=0, library=open_library(thorough, board),
                        task_filter=lambda t: t.name == TINY_TASK)  # fmt: skip
    assert result.library.skip == [True] and result.progress.trials == 0
    assert store.summary().measured == 0 and store.summary().reused == FINAL_TOP


def test_a_known_anchor_with_another_epilogue_is_searched_not_reused(tmp_path):
    """Same matmul, one model with a fused RELU: the library's trace is not applied to the other
    kernel (it failed to build with such a record); the task is similar and searched."""
    board = _board()
    relu = load_model(fully_connected(tmp_path / "relu.tflite", 40, activation=1))
    plain = load_model(fully_connected(tmp_path / "plain.tflite", 40))
    library = open_library(tmp_path / "lib", board)
    first = tune_model(relu, board, RecordStore(tmp_path / "r1", relu.info, board), 4, seed=0,
                       library=library)  # fmt: skip
    store = RecordStore(tmp_path / "r2", plain.info, board)
    result = tune_model(plain, board, store, 4, seed=0, library=library)
    assert workload_hash(result.tasks[0].mod) == workload_hash(first.tasks[0].mod)  # one anchor
    assert result.library.status == ["similar"] and result.progress.trials == 4
    assert store.summary().reused == 0
    assert build_model(plain, board, store).tuned == 1


def test_records_of_another_epilogue_leave_a_kernel_untuned_instead_of_failing(tmp_path):
    """A database finds a record by its anchor block: a plain matmul gets the trace tuned around
    `matmul + relu`, which fails to apply (bench_layers' one-op models met this); the
    applicable database keeps only records whose trace fits the whole kernel, and the build
    applies records one kernel at a time, so one that fails leaves its kernel untuned."""
    board = _board()
    relu = load_model(fully_connected(tmp_path / "relu.tflite", 40, activation=1))
    plain = load_model(fully_connected(tmp_path / "plain.tflite", 40))
    store = RecordStore(tmp_path / "r", relu.info, board)
    tune_model(relu, board, store, 4, seed=0, final_top=0)
    chosen, plain_tasks = database_of(store), for_model(plain, board)
    mods = [t.mod for t in plain_tasks] + [t.mod for t in for_model(relu, board)]
    assert best_latency_in(chosen, mods[0]) is not None  # found by its anchor
    applicable = applicable_database(chosen, mods)
    assert best_latency_in(applicable, mods[0]) is None
    assert best_latency_in(applicable, mods[1]) == best_latency_in(chosen, mods[1])
    unapplied: list[str] = []  # the raw database: that kernel built untuned and named
    assert compile_with_records(plain_tasks, chosen, unapplied=unapplied) is not None
    assert unapplied == ["matmul"]
    unapplied.clear()
    assert compile_with_records(plain_tasks, applicable, unapplied=unapplied) is not None
    assert unapplied == []


def test_tune_start_reads_the_library_and_hashes_each_task_once(tiny, tmp_path, monkeypatch):
    """Classifying the tasks and taking their records is one read of the library's database
    and one structural hash per task (both used to be two)."""
    _, board, model, library, _, _ = tiny
    tasks = list(for_model(model, board))
    reads, hashes = [], []
    turn, hash_ = Library._turn, library_module.workload_hash

    def counted(mod):
        hashes.append(mod)
        return hash_(mod)

    monkeypatch.setattr(Library, "_turn", lambda self: reads.append(1) or turn(self))
    monkeypatch.setattr(library_module, "workload_hash", counted)
    monkeypatch.setattr(library_start, "workload_hash", counted)
    store = RecordStore(tmp_path / "r", model.info, board)
    start = library_start.start_from_library(library, tasks, store, 0)
    assert start.status.count("known") == 1 and start.reused == FINAL_TOP
    assert len(reads) == 1 and len(hashes) == len(tasks)


def test_tasks_and_tune_show_known_similar_new(tiny, tmp_path, cli):
    _, _, _, library, _, _ = tiny
    lib = str(library.path)
    out = cli("tasks", "mobilenet_v2_fp32", "--library", lib, "--json")
    data = json.loads(out.out)
    status = {t["family"]: t["library"] for t in data["tasks"]}
    assert sum(data["totals"][k] for k in ("known", "similar", "new")) == len(data["tasks"])
    assert data["totals"]["new"] == sum(t["library"] == "new" for t in data["tasks"]) >= 1
    assert status[POINTWISE] == "similar" and status["matmul-float32"] == "new"
    v2 = tiny_v2(tmp_path)
    out = cli("tasks", v2, "--library", lib)
    rows = {line.split()[1]: line.split()[-1] for line in out.out.splitlines()[1:-1]}
    assert rows[TINY_TASK] == "known" and rows["matmul"] == "new"
    # --trials 0: nothing measured, the known task's record is copied, the status is printed
    res = cli("tune", v2, "--records", tmp_path / "r", "--trials", "0", "--library", lib)
    assert res.code == 0
    assert f"known    {TINY_TASK} (reused from the library: 0 trials)" in res.err
    assert "new      matmul" in res.err
    assert "1 known, 0 similar, 4 new tasks; 3 records reused" in res.out
    assert "library_reused" in (tmp_path / "r" / MANIFEST).read_text()
    # the report says what each task took from the library
    res = cli("report", tmp_path / "r", "--format", "md", "-o", tmp_path / "r.md")
    assert res.code == 0
    report = (tmp_path / "r.md").read_text()
    rows = {r.split(" | ")[1]: r.split(" | ") for r in report.splitlines() if r.startswith("| ")}
    assert rows["task"][-1] == "library |" and rows[TINY_TASK][-1] == "reused |"
    assert rows["matmul"][-1] == "new |" and rows[TINY_TASK][4] == "0"  # trials
    assert "Records library, tasks: reused 1 (0 trials), known but searched 0" in report
    res = cli("report", tmp_path / "r", "--json", "-o", tmp_path / "r.html")
    assert json.loads(res.out)["library"]["reused"] == 1
    # build reads the library for what the records lack (here: no records at all)
    res = cli("build", v2, "--library", lib, "-o", tmp_path / "m.so")
    assert res.code == 0 and "1/5 tasks tuned" in res.out and (tmp_path / "m.so").is_file()


def test_a_resumed_tune_keeps_what_the_library_was_to_its_tasks(tmp_path, cli):
    """The first run adds the folder's records to the library; resumed, its tasks are still
    new (the library knows them from this folder only), not known."""
    args = ["tune", "tiny_fp32", "--records", tmp_path / "r", "--library", tmp_path / "lib",
            "--final-top", "0", "--json"]  # fmt: skip
    for trials in (6, 10):
        res = cli(*args, "--trials", trials)
        assert res.code == 0, res.err
        tuned = json.loads(res.out)
        assert {t["library"] for t in tuned["tasks"]} == {"new"}, tuned["tasks"]
        assert tuned["library"]["known"] == 0
    report = json.loads(cli("report", tmp_path / "r", "--json").out)
    assert report["library"]["new"] == 5 and report["library"]["known"] == 0


def test_library_of_another_tvm_version_or_target_is_refused(tiny, tmp_path, cli):
    _, _, _, library, _, _ = tiny
    old = tmp_path / "old"
    shutil.copytree(library.path, old)
    data = json.loads((old / LIBRARY_MANIFEST).read_text())
    data["key"]["tvm"] = "0.26.0"
    (old / LIBRARY_MANIFEST).write_text(json.dumps(data))
    res = cli("tune", "tiny_fp32", "--records", tmp_path / "r", "--trials", "4", "--library", old)
    assert res.code == 2 and "Traceback" not in res.err
    assert 'holds records of TVM "0.26.0"' in res.err and "never transfer" in res.err
    assert not (tmp_path / "r").exists()  # refused before any work
    res = cli("tasks", "tiny_fp32", "--board", "qemu-a53", "--library", library.path)
    assert res.code == 2 and "holds records of target" in res.err
    # the default location keeps boards apart: one sub-folder per key
    other = open_library(library.path.parent, load_board("qemu-a53"))
    assert other.path.parent == library.path.parent and other.path != library.path


def test_library_command_lists_key_folders_and_families(tiny, tmp_path, cli):
    """`edgetune library`: each key folder with what its manifest holds; --board keeps the
    board's folders and lists their families; a damaged manifest is named, the rest listed."""
    _, _, _, library, _, _ = tiny
    root = tmp_path / "lib"
    shutil.copytree(library.path, root / library.path.name)
    other = root / "qemu-a53-0123456789ab"  # a folder of another key, as another board writes
    shutil.copytree(library.path, other)
    data = json.loads((other / LIBRARY_MANIFEST).read_text())
    data["key"]["target"] = str(load_board("qemu-a53").target())
    (other / LIBRARY_MANIFEST).write_text(json.dumps(data))

    res = cli("library", "--library", root, "--json")
    assert res.code == 0
    folders = {f["folder"]: f for f in json.loads(res.out)["folders"]}
    assert set(folders) == {library.path.name, other.name}
    mine = folders[library.path.name]
    held = json.loads((root / library.path.name / LIBRARY_MANIFEST).read_text())["workloads"]
    pointwise = [w for w in held.values() if w["family"] == POINTWISE]
    assert mine["workloads"] == len(held) and len(pointwise) >= 1  # other tests may add some
    assert mine["records"] == sum(w["records"] for w in held.values()) >= 4
    assert mine["families"] == len({w["family"] for w in held.values()})
    assert mine["key"] == library.key and mine["target"].startswith("llvm ")
    copied = root / library.path.name
    assert mine["size_bytes"] == sum(f.stat().st_size for f in copied.iterdir())
    assert "aarch64" in folders[other.name]["target"]

    res = cli("library", "--library", root, "--board", "host")
    assert res.code == 0 and other.name not in res.out
    (family_row,) = [line for line in res.out.splitlines() if line.startswith(POINTWISE)]
    assert family_row.split()[1:] == [  # workloads, records, most trials per task
        str(len(pointwise)),
        str(sum(w["records"] for w in pointwise)),
        str(max(w["trials_per_task"] for w in pointwise)),
    ]

    (other / LIBRARY_MANIFEST).write_text("{not json")
    res = cli("library", "--library", root)
    assert res.code == 2 and library.path.name in res.out
    assert f"{other / LIBRARY_MANIFEST}: damaged manifest" in res.err

    res = cli("library", "--library", tmp_path / "nowhere")
    assert res.code == 2 and "no records library at" in res.err and "Traceback" not in res.err


def test_library_command_on_an_empty_default_says_so(tmp_path, cli, monkeypatch):
    monkeypatch.setenv("EDGETUNE_LIBRARY", str(tmp_path / "empty"))
    res = cli("library")
    assert res.code == 0 and "0 key folders" in res.out and "every `tune` adds" in res.out


def test_a_damaged_library_manifest_is_rebuilt_from_its_records(tiny, tmp_path, cli):
    """A library manifest that is not JSON is rebuilt from the folder's records (its name says
    which key they are of), the damaged file kept; a folder whose name does not is refused."""
    _, _, _, library, _, _ = tiny
    folder = tmp_path / "lib" / library.path.name
    shutil.copytree(library.path, folder)
    before = json.loads((folder / LIBRARY_MANIFEST).read_text())
    (folder / LIBRARY_MANIFEST).write_text('{"key": {"tvm": ')  # cut short (a disk full)

    records = len((folder / TUNING_RECORDS).read_text().splitlines())  # 4, or more after others
    res = cli("tasks", tiny_v2(tmp_path), "--library", tmp_path / "lib", "--json")
    assert res.code == 0 and f"rebuilt from the folder's {records} records" in res.err
    status = {t["name"]: t["library"] for t in json.loads(res.out)["tasks"]}
    assert status[TINY_TASK] == "known"
    after = json.loads((folder / LIBRARY_MANIFEST).read_text())
    assert after["key"] == before["key"]
    for entry in before["workloads"].values():  # all but the trials per task, not in records
        del entry["trials_per_task"]
    assert after["workloads"] == before["workloads"]
    assert (folder / (LIBRARY_MANIFEST + ".damaged")).read_text() == '{"key": {"tvm": '

    renamed = tmp_path / "renamed"
    shutil.copytree(library.path, renamed)
    (renamed / LIBRARY_MANIFEST).write_text("{")
    res = cli("tasks", "tiny_fp32", "--library", renamed)
    assert res.code == 2 and "Traceback" not in res.err
    assert "damaged manifest" in res.err and "does not say which target" in res.err
    assert (renamed / LIBRARY_MANIFEST).read_text() == "{"  # refused, left as it was


def test_concurrent_writers_lose_nothing(tiny, tmp_path):
    _, board, _, _, store, _ = tiny
    folders = []
    for i in range(2):  # two records folders never added to the new library
        folder = tmp_path / f"recs{i}"
        shutil.copytree(store.path, folder, ignore=shutil.ignore_patterns("edgetune.lock"))
        folders.append(folder)
    _remeasured(folders[1] / TUNING_RECORDS)  # other measurements of the same schedules
    lib = tmp_path / "shared"
    code = (
        "import sys; from edgetune.board import load_board; from edgetune.frontend import "
        "load_model; from edgetune.paths import MODELS_DIR; from edgetune.records import "
        "RecordStore, open_library; b = load_board('host'); "
        "m = load_model(MODELS_DIR / 'tiny_fp32.tflite'); "
        "print(open_library(sys.argv[1], b).add(RecordStore(sys.argv[2], m.info, b)))"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", code, str(lib), str(f)], stdout=subprocess.PIPE)
        for f in folders
    ]
    outs = [p.communicate(timeout=300)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0] and [o.strip() for o in outs] == [b"4", b"4"]
    library = open_library(lib, board)
    lines = (library.path / TUNING_RECORDS).read_text().splitlines()
    assert len(lines) == 8 and all(json.loads(line) for line in lines)
    assert [w["records"] for w in library.workloads.values()] == [8]
    with library._turn() as db:  # MetaSchedule reads it back whole
        assert len(db.get_all_tuning_records()) == 8


def test_similar_task_starts_from_its_family(tmp_path):
    """A pointwise conv of MobileNetV2 in the library seeds another one's first population; the
    pointwise family's cost model learns this run's measurements only (pre-trained on other
    models' records it ranked session 6's depthwise convs worse than chance)."""
    board = _board()
    model = load_model(MODELS_DIR / "mobilenet_v2_fp32.tflite")
    library = open_library(tmp_path / "lib", board)
    first = RecordStore(tmp_path / "a", model.info, board)
    # 8 records: replayed on the other shapes, some draws fail ThreadSplit (tiles that leave a
    # thread idle), and which ones depends on the records' measured order
    tune_model(model, board, first, 8, seed=0, library=library, final_top=0,
               task_filter=lambda t: t.name == "fused_conv2d10_add8")  # fmt: skip
    second = RecordStore(tmp_path / "b", model.info, board)
    result = tune_model(model, board, second, 2, seed=0, library=library, final_top=0,
                        task_filter=lambda t: t.name == "fused_conv2d15_add12")  # fmt: skip
    assert result.library.status == ["similar"]
    assert result.search["seeded"]["fused_conv2d15_add12"] >= 1
    assert "cost_models_pretrained" not in result.search
    saved = FamilyCostModel({"t": POINTWISE}, second.path, warmup_samples=2)
    assert saved.restore(second.path) == [POINTWISE, POOLED]
    assert saved.samples(POINTWISE) == 2  # the run's 2 trials, not the library's 2 records too
    assert saved.samples(POOLED) == 2
    # MetaSchedule's own log: the first population took the seeds from the (seeded) database,
    # where a task new to its records folder has nothing to pick
    (log,) = (second.path / "logs").glob("*fused_conv2d15_add12.log")
    picked = [ln for ln in log.read_text().splitlines() if "candidate(s) from database" in ln]
    assert picked and "Picked top 0 " not in picked[0]
    assert result.progress.trials == 2 and library.add(second) == 0  # added by the run


def test_a_fresh_process_adds_tensorized_int8_records(tmp_path):
    """A records folder whose traces name tensor intrinsics (int8 kernels) is added to the
    library by a `tune` in a new process that has not registered them yet (with nothing left to
    search, the add comes first): every record goes in, and the task is then known."""
    from int8_support import tensorized_records

    board = load_board("host")
    model, task, store = tensorized_records(board, tmp_path / "recs", 1e-5)
    recs = tmp_path / "copy"  # this process holds the folder's writer lock
    shutil.copytree(store.path, recs, ignore=shutil.ignore_patterns("edgetune.lock"))
    tune = [sys.executable, "-m", "edgetune", "tune", str(model.path), "--records", str(recs),
            "--trials", "1", "--final-top", "0", "--library", str(tmp_path / "lib"),
            "--json"]  # fmt: skip
    done = subprocess.run(tune, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["trials"] == 0 and report["library"]["added"] == 1
    (row,) = [t for t in report["tasks"] if t["name"] == task.name]
    assert row["library"] == "known"
    assert f"known    {task.label} (measured in this records folder: searched as before)" in (
        done.stderr
    )
    library = open_library(tmp_path / "lib", board)
    entry = library.workloads[workload_hash(task.mod)]
    assert entry["records"] == 1 and entry["best_s"] == pytest.approx(1e-5)


def _remeasured(path) -> None:
    """Every record of a records file given other run times (the same schedules measured again)."""
    lines = []
    for line in path.read_text().splitlines():
        wl, rec = json.loads(line)
        rec[1] = [float(t) * 1.5 for t in rec[1]]
        lines.append(json.dumps([wl, rec]))
    path.write_text("\n".join(lines) + "\n")


def test_a_record_is_added_once_however_the_library_is_named(tiny, tmp_path, cli):
    """The library through a symlink, then by a relative path, then with the folder's memory of
    what it added lost (a sync killed before it wrote it): no record is added twice, so no
    task looks measured more often than it was."""
    _, board, _, _, store, _ = tiny
    recs = tmp_path / "recs"
    shutil.copytree(store.path, recs, ignore=shutil.ignore_patterns("edgetune.lock"))
    (tmp_path / "alias").symlink_to(tmp_path / "lib")
    model = load_model(MODELS_DIR / "tiny_fp32.tflite")
    added = [open_library(tmp_path / "lib", board).add(RecordStore(recs, model.info, board))]
    added.append(open_library(tmp_path / "alias", board).add(RecordStore(recs, model.info, board)))
    manifest = json.loads((recs / MANIFEST).read_text())
    manifest.pop("library_synced")
    (recs / MANIFEST).write_text(json.dumps(manifest))
    added.append(open_library(tmp_path / "lib", board).add(RecordStore(recs, model.info, board)))
    assert added == [4, 0, 0]
    library = open_library(tmp_path / "lib", board)
    assert len((library.path / TUNING_RECORDS).read_text().splitlines()) == 4
    assert [w["records"] for w in library.workloads.values()] == [4]


def test_a_library_missing_its_workloads_is_refused_before_any_search(tiny, tmp_path, cli):
    """Records whose workload lines are gone (the file deleted or cut short) cannot be matched
    to their kernels: `tune` refuses the library at once, in one line, and changes nothing; a
    records folder in that state is refused by `build` and `tune` alike."""
    _, _, _, library, store, _ = tiny
    lib = tmp_path / "lib" / library.path.name
    shutil.copytree(library.path, lib)
    (lib / "database_workload.json").unlink()
    before = sorted((p.name, p.stat().st_size) for p in lib.iterdir())
    res = cli("tune", "tiny_fp32", "--trials", "4", "--records", tmp_path / "r", "--library",
              tmp_path / "lib", "--final-top", "0")  # fmt: skip
    assert res.code == 2 and "Traceback" not in res.err
    assert "database_workload.json is missing" in res.err and "nothing was changed" in res.err
    assert sorted((p.name, p.stat().st_size) for p in lib.iterdir()) == before
    assert not (tmp_path / "r" / TUNING_RECORDS).exists()  # refused before measuring anything

    recs = tmp_path / "recs"
    shutil.copytree(store.path, recs, ignore=shutil.ignore_patterns("edgetune.lock"))
    (recs / "database_workload.json").write_text("")  # cut to nothing
    for args in (("build", "-o", tmp_path / "m.so"), ("tune", "--trials", "8", "--no-library")):
        res = cli(args[0], "tiny_fp32", "--records", recs, *args[1:])
        assert res.code == 2 and "Traceback" not in res.err
        assert f"records folder {recs}: database_workload.json is cut short: 4 of its 4" in res.err
    assert len((recs / TUNING_RECORDS).read_text().splitlines()) == 4
    assert not list(recs.glob("*.stale"))  # not taken for stale schedules


def test_a_library_manifest_out_of_step_with_its_records_is_rebuilt(tiny, tmp_path, cli):
    """A manifest deleted, or counting records the folder lost: `edgetune library` says so
    (exit 2) and the next use rebuilds it from the records, keeping the trials per task it
    knew; no good record is hidden or lost."""
    _, _, _, library, _, _ = tiny
    lib = tmp_path / "lib" / library.path.name
    shutil.copytree(library.path, lib)
    before = json.loads((lib / LIBRARY_MANIFEST).read_text())
    records = len((lib / TUNING_RECORDS).read_text().splitlines())
    (lib / LIBRARY_MANIFEST).unlink()
    res = cli("library", "--library", tmp_path / "lib")
    assert res.code == 2 and f"{records} records, no manifest" in res.err
    res = cli("tasks", "tiny_fp32", "--library", tmp_path / "lib", "--json")
    assert res.code == 0 and f"missing; rebuilt from the folder's {records} records" in res.err
    status = {t["name"]: t["library"] for t in json.loads(res.out)["tasks"]}
    assert status[TINY_TASK] == "known"

    (lib / LIBRARY_MANIFEST).write_text(json.dumps(before))  # as it was, trials per task too
    lines = (lib / TUNING_RECORDS).read_text().splitlines()
    (lib / TUNING_RECORDS).write_text("\n".join(lines[:1]) + "\n")  # records lost by hand
    res = cli("library", "--library", tmp_path / "lib")
    assert res.code == 2 and f"counts {records} records, the folder holds 1" in res.err
    res = cli("tasks", "tiny_fp32", "--library", tmp_path / "lib")
    assert res.code == 0 and "rebuilt from the folder's 1 records" in res.err
    after = json.loads((lib / LIBRARY_MANIFEST).read_text())
    (h,) = after["workloads"]
    assert after["workloads"][h]["records"] == 1
    assert after["workloads"][h]["trials_per_task"] == before["workloads"][h]["trials_per_task"]


def test_a_library_that_is_a_file_is_refused_first(tmp_path, cli):
    (tmp_path / "lib").write_text("not a folder")
    res = cli("tune", "tiny_fp32", "--trials", "4", "--records", tmp_path / "r", "--library",
              tmp_path / "lib")  # fmt: skip
    assert res.code == 2 and "is a file, not a folder" in res.err
    assert not (tmp_path / "r" / TUNING_RECORDS).exists()
    res = cli("build", "tiny_fp32", "-o", tmp_path / "m.so", "--library", tmp_path / "missing")
    assert res.code == 2 and "no records library at" in res.err
    res = cli("tasks", "tiny_fp32", "--library", tmp_path / "missing")  # read only: not made
    assert res.code == 2 and "no records library at" in res.err
    assert f"The first `edgetune tune --library {tmp_path / 'missing'}` creates it" in res.err
    assert not (tmp_path / "missing").exists()
    for command in (["library"], ["tasks", "tiny_fp32"]):  # said as tune says it (not "a typo")
        res = cli(*command, "--library", tmp_path / "lib")
        assert res.code == 2 and "is a file, not a folder" in res.err, res.err


def test_a_records_folder_given_as_library_is_named_as_such(tmp_path, cli):
    recs = tmp_path / "r"
    assert cli("tune", "tiny_fp32", "--trials", "0", "--records", recs, "--no-library").code == 0
    res = cli("library", "--library", recs)
    assert res.code == 2
    assert f"{recs} is a records folder (of `edgetune tune --records`), not a records" in res.err


def test_report_shows_reused_tasks_and_a_spent_budget_is_noted(tiny, tmp_path, cli, capsys):
    """`report` gives a task reused from the library its copied record's latency (0 trials, not
    counted as measured here); a `tune` whose folder already holds its --trials says so."""
    _, _, _, library, _, _ = tiny
    shutil.copytree(library.path, tmp_path / "lib" / library.path.name)
    recs = tmp_path / "recs"
    res = cli("tune", "tiny_fp32", "--trials", "4", "--records", recs, "--library",
              tmp_path / "lib", "--final-top", "0", "--json")  # fmt: skip
    assert res.code == 0, res.err
    tuned = json.loads(res.out)
    assert tuned["trials"] == 4 and tuned["library"]["reused_records"] >= 1
    # interrupted now, it would say what was measured apart from what the library gave
    args = build_parser().parse_args(["tune", "tiny_fp32", "--trials", "4", "--records",
                                      str(recs), "--library", str(tmp_path / "lib"),
                                      "--final-top", "0"])  # fmt: skip
    model = load_model(MODELS_DIR / "tiny_fp32.tflite")
    assert interrupted(args, RecordStore(recs, model.info, _board(), create=False)) == 130
    said = capsys.readouterr().err
    reused = tuned["library"]["reused_records"]
    assert f"interrupted; 4 measured trials are kept in {recs}, and {reused} records reused" in said
    res = cli("report", recs, "--json", "-o", tmp_path / "report.html")
    report = json.loads(res.out)
    (row,) = [t for t in report["per_task"] if t["name"] == TINY_TASK]
    assert row["library"] == "reused" and row["trials"] == 0 and row["best_us"] > 0
    assert report["trials"] == 4  # the copied records were not measured here
    assert report["estimated_latency_ms"] == pytest.approx(tuned["estimated_latency_ms"])

    res = cli("tune", "tiny_fp32", "--trials", "2", "--records", recs, "--no-library")
    assert res.code == 0 and "already holds 4 trials and --trials is 2" in res.out
