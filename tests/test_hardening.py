"""Interruptions and concurrent use: one writer per records folder, SIGTERM like Ctrl-C, a
stale lock taken over, broken board files reported without hiding the others."""

from __future__ import annotations

import hashlib
import json
import os
import pwd
import shlex
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import paramiko
import pytest
from tflite_builder import fully_connected

from edgetune.paths import MODELS_DIR, REPO_DIR
from edgetune.records import summarize_folder

ENV = {**os.environ, "PYTHONPATH": str(REPO_DIR)}
# A budget no test reaches (they interrupt or kill the tune); under 64 for the one task of the
# model they tune, so each round searches with the small population
# (`search.tune.search_strategy`): the first records come after ~6 s (~30 s for tiny_fp32's
# five tasks, which MetaSchedule's scheduler all measure before it writes a record)
NEVER_REACHED = 60


@pytest.fixture(scope="module")
def fc_model(tmp_path_factory) -> Path:
    """A one-task model (a fully connected layer) for the tunes these tests interrupt."""
    return fully_connected(tmp_path_factory.mktemp("model") / "fc.tflite", units=64)


def _tune(model: Path, recs, trials: int, *extra: str) -> list[str]:
    return [sys.executable, "-m", "edgetune", "tune", str(model), "--trials", str(trials),
            "--records", str(recs), "--search", "ms", "--per-round", "4", "--no-library",
            *extra]  # fmt: skip


def _wait_for_records(recs, n: int, proc, limit_s: float = 300) -> None:
    path = recs / "database_tuning_record.json"
    deadline = time.time() + limit_s
    while time.time() < deadline and proc.poll() is None:
        if path.is_file() and len(path.read_text().splitlines()) >= n:
            return
        time.sleep(0.3)
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)  # reading stderr of a live process would block
    raise AssertionError(f"no {n} records within {limit_s} s: {proc.communicate()[1].decode()}")


def test_second_writer_is_refused_and_a_killed_writers_lock_is_taken_over(tmp_path, fc_model):
    recs = tmp_path / "recs"
    first = subprocess.Popen(_tune(fc_model, recs, NEVER_REACHED), env=ENV,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                             start_new_session=True)  # fmt: skip
    try:
        _wait_for_records(recs, 1, first)
        second = subprocess.run(_tune(fc_model, recs, NEVER_REACHED), env=ENV,
                                capture_output=True, text=True)  # fmt: skip
        assert second.returncode == 2
        line = second.stderr.strip().splitlines()[-1]
        assert line.startswith(f"edgetune: error: records folder {recs.resolve()} is being "
                               f"written by pid {first.pid}")  # fmt: skip
    finally:
        os.killpg(first.pid, signal.SIGKILL)  # no clean-up: the lock file stays behind
        first.wait()
    assert (recs / "edgetune.lock").is_file()
    kept = summarize_folder(recs).records  # whole lines: a kill may cut the last one short
    # The next writer takes the dead one's lock over and reads every record it wrote (resuming
    # a tune from there is test_end_to_end's); a process of its own, as locks are per process.
    third = subprocess.run([sys.executable, "-c", TAKE_OVER, str(recs), str(fc_model)], env=ENV,
                           capture_output=True, text=True)  # fmt: skip
    assert third.returncode == 0, third.stderr
    pid, records, holder = third.stdout.split(maxsplit=2)
    assert int(records) == kept >= 1
    assert holder.startswith(f"pid {pid} ")


TAKE_OVER = """
import os, sys
from pathlib import Path
from edgetune.board import load_board
from edgetune.frontend import load_model
from edgetune.records import RecordStore
recs = Path(sys.argv[1])
store = RecordStore(recs, load_model(Path(sys.argv[2])).info, load_board("host"))
print(os.getpid(), len(store.database().get_all_tuning_records()),
      (recs / "edgetune.lock").read_text())
"""


# Where an interrupt lands: seconds after start (importing TVM, loading the model, extracting
# tasks, the first builds) or after the first records are written (measuring, writing the
# database, updating the cost model); Ctrl-C (SIGINT) and SIGTERM alike. 5-15 s each.
INTERRUPT_POINTS = [
    (signal.SIGINT, "after", 0.5),
    (signal.SIGTERM, "after", 3.0),
    (signal.SIGTERM, "after", 6.0),
    (signal.SIGINT, "after", 10.0),
    (signal.SIGINT, "records", 1),
    (signal.SIGTERM, "records", 1),
    (signal.SIGINT, "records", 6),
]


@pytest.mark.parametrize("sig,when,at", INTERRUPT_POINTS)
def test_interrupt_at_any_point_ends_cleanly_and_keeps_the_records(
    tmp_path, fc_model, sig, when, at
):
    recs = tmp_path / "recs"
    proc = subprocess.Popen(_tune(fc_model, recs, NEVER_REACHED), env=ENV,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)  # fmt: skip
    if when == "after":
        time.sleep(at)
    else:
        _wait_for_records(recs, at, proc)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=180)
    text = err.decode()
    assert proc.returncode == 130, text
    assert "Traceback" not in text and "Segmentation" not in text
    if "stopping after the current batch" in text:  # what stops it at once: what was sent
        again = "Ctrl-C" if sig == signal.SIGINT else "the signal"
        assert f"({again} again to stop now)" in text
    *_, said, last = ["", *text.strip().splitlines()]  # "kept ... resume:" + the command
    graceless = "(the batch outlasted SIGTERM's 5 s)" in said  # a slow batch on a busy host
    assert last == "edgetune: interrupted" or "run the same command again" in said or graceless
    assert text.count("edgetune: interrupted") == 1 or graceless, text  # said once
    records = recs / "database_tuning_record.json"
    if when == "records":
        assert "measured trials are kept in" in said or graceless, text
        assert last.startswith("  edgetune tune "), text
    lines = records.read_text().splitlines() if records.is_file() else []
    assert len(lines) >= (at if when == "records" else 0)
    assert all(json.loads(ln) for ln in lines)
    with pytest.raises(ProcessLookupError):  # no builder or runner worker left behind
        _wait_gone(proc.pid)


def test_a_second_signal_stops_at_once_and_keeps_the_measured_batches(tmp_path, fc_model):
    """SIGTERM twice (docker stop, a second Ctrl-C): the watcher thread ends the process within
    a second whatever the main thread is in (MetaSchedule's C++ search held it for 100 s,
    where Python's own handlers cannot run); the batches measured before are in the records,
    whole lines, and no worker is left."""
    recs = tmp_path / "recs"
    proc = subprocess.Popen(_tune(fc_model, recs, NEVER_REACHED), env=ENV,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)  # fmt: skip
    _wait_for_records(recs, 4, proc)
    proc.send_signal(signal.SIGTERM)
    time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    sent = time.monotonic()
    _, err = proc.communicate(timeout=60)
    text = err.decode()
    assert proc.returncode == 130 and time.monotonic() - sent < 5, text
    # at once; or, when the batch ended first, quietly after the summary (the second signal
    # raised in a worker pool's __del__ then: "Exception ignored ... KeyboardInterrupt")
    assert "Traceback" not in text and "Exception ignored" not in text, text
    assert ("edgetune: stopped at once (the signal again)" in text
            or "run the same command again to resume" in text), text  # fmt: skip
    lines = (recs / "database_tuning_record.json").read_text().splitlines()
    assert len(lines) >= 4 and all(json.loads(ln) for ln in lines)
    with pytest.raises(ProcessLookupError):
        _wait_gone(proc.pid)


def test_a_sigterm_whose_batch_outlasts_its_grace_stops_at_once(tmp_path, fc_model):
    """docker stop kills 10 s after its SIGTERM: a batch that does not end within the grace
    ($EDGETUNE_TERM_GRACE_S; here 0, so that no batch ends within it) is given up, the batches
    before it kept."""
    recs = tmp_path / "recs"
    proc = subprocess.Popen(_tune(fc_model, recs, NEVER_REACHED, "--seed=3"),
                            env={**ENV, "EDGETUNE_TERM_GRACE_S": "0"},
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)  # fmt: skip
    _wait_for_records(recs, 4, proc)
    proc.send_signal(signal.SIGTERM)
    sent = time.monotonic()
    _, err = proc.communicate(timeout=60)
    text = err.decode()
    assert proc.returncode == 130 and time.monotonic() - sent < 4, text
    assert "stopping after the current batch if it ends within 0 s, else at once" in text
    said, command = text.strip().splitlines()[-2:]
    assert said.startswith("edgetune: stopped at once (the batch outlasted SIGTERM's 0 s)")
    # the command `tune` says resumes it (cli/resume.py), not the command line as typed
    resume = ["edgetune", "tune", str(fc_model), "--trials", str(NEVER_REACHED), "--records",
              str(recs), "--seed", "3", "--per-round", "4", "--search", "ms",
              "--no-library"]  # fmt: skip
    assert command == f"  {shlex.join(resume)}" and "Traceback" not in text, text
    lines = (recs / "database_tuning_record.json").read_text().splitlines()
    assert len(lines) >= 4 and all(json.loads(ln) for ln in lines)
    with pytest.raises(ProcessLookupError):
        _wait_gone(proc.pid)


def test_an_interrupted_tune_json_says_what_it_kept(tmp_path, fc_model):
    """`tune --json` interrupted: stdout is still JSON (interrupted, records kept, resume)."""
    recs = tmp_path / "recs"
    proc = subprocess.Popen(_tune(fc_model, recs, NEVER_REACHED, "--json"), env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)  # fmt: skip
    _wait_for_records(recs, 4, proc)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=180)
    assert proc.returncode == 130, err.decode()
    data = json.loads(out)
    kept = len((recs / "database_tuning_record.json").read_text().splitlines())
    assert data["interrupted"] is True and data["records"] == str(recs)
    assert data["measured"] == kept >= 4 and data["resume"].startswith("edgetune tune ")


def test_an_interrupt_swallowed_before_tuning_still_stops_it(tmp_path):
    """Ctrl-C raised inside a TVM callback during start-up can be turned into an error that
    something catches; the request is kept (`edgetune.stop`) and tuning stops at its start."""
    from edgetune import stop
    from edgetune.board import load_board
    from edgetune.frontend import load_model
    from edgetune.records import RecordStore
    from edgetune.search import tune_model

    model, board = load_model(MODELS_DIR / "tiny_fp32.tflite"), load_board("host")
    store = RecordStore(tmp_path / "recs", model.info, board)
    stop.request()
    try:
        with pytest.raises(KeyboardInterrupt):
            tune_model(model, board, store, 4, search="ms", on_batch=lambda _: None)
    finally:
        stop.clear()
    assert store.summary().records == 0


SWALLOWED_DURING_BUILD = """
import sys
from edgetune import stop
from edgetune.cli import entry
from edgetune.compile import library

def interrupted_and_swallowed(*args, **kwargs):  # as a Ctrl-C caught as a TVM error leaves it
    stop.request()
    return for_model(*args, **kwargs)

for_model, library.for_model = library.for_model, interrupted_and_swallowed
sys.exit(entry.main(["build", "tiny_fp32", "--board", "host", "-o", sys.argv[1]]))
"""


def test_an_interrupt_swallowed_during_a_build_writes_nothing(tmp_path):
    """Ctrl-C during `build` that TVM turned into an error some pass caught (MediaPipe's hand
    landmarks: exit 0, a .so of another task split): exit 130, no artifact, no partial file."""
    out = tmp_path / "x.so"
    proc = subprocess.run([sys.executable, "-c", SWALLOWED_DURING_BUILD, str(out)], env=ENV,
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert proc.returncode == 130, proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == "edgetune: interrupted"
    assert list(tmp_path.iterdir()) == []


def _wait_gone(group: int, limit_s: float = 10) -> None:
    deadline = time.time() + limit_s
    while time.time() < deadline:
        os.killpg(group, 0)  # ProcessLookupError once every process of the group has ended
        time.sleep(0.2)


# Libraries that pass every check (ELF for this machine, trailer checksum) but are not what
# `edgetune build` wrote: one whose initializer faults when loaded, one from other code
FOREIGN_LIBRARIES = {
    "crash": "#include <signal.h>\n__attribute__((constructor)) static void f(void) "
    "{ raise(SIGSEGV); }\n",
    "plain": "int add(int a, int b) { return a + b; }\n",
}


@pytest.mark.parametrize("kind", sorted(FOREIGN_LIBRARIES))
def test_a_library_that_crashes_or_holds_no_model_is_one_line(tmp_path, kind):
    from edgetune.frontend import read_tflite
    from edgetune.runtime import ArtifactMeta, read_artifact_meta, write_artifact_meta

    (tmp_path / "lib.c").write_text(FOREIGN_LIBRARIES[kind])
    lib = tmp_path / f"{kind}.so"
    subprocess.run(["gcc", "-shared", "-fPIC", "-o", lib, tmp_path / "lib.c"], check=True)
    info = read_tflite(MODELS_DIR / "tiny_fp32.tflite")[1]
    write_artifact_meta(lib, ArtifactMeta(info, "host", "llvm", 0, 0, "test"))
    assert read_artifact_meta(lib, "host").library_sha256  # passes validation
    run = subprocess.run([sys.executable, "-m", "edgetune", "run", lib, "--repeat", "1"],
                         env=ENV, capture_output=True, text=True)  # fmt: skip
    expected = {
        "crash": "the library crashed while loading (signal SIGSEGV); rebuild it with "
        "`edgetune build`",
        "plain": "not a model library built by `edgetune build` (Module has no function "
        "'vm_load_executable')",
    }[kind]
    assert run.returncode == 2, run.stderr
    assert run.stderr.splitlines() == [f"running {lib} on host ...",
                                       f"edgetune: error: {lib}: {expected}"]  # fmt: skip


NOBODY = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]


@pytest.fixture
def shared_dir():
    """A folder user nobody can enter (pytest's tmp_path is root's alone), removed after; the
    folders above this Python, its packages and the repository are made enterable by others for
    the test (a CI venv lives in a private temporary folder) and restored after."""
    path = Path(tempfile.mkdtemp(prefix="edgetune-nobody-"))
    path.chmod(0o755)
    needed = [Path(sys.executable), REPO_DIR, *(Path(p) for p in sys.path if "site-packages" in p)]
    ancestors = {a for p in needed for q in (p.absolute(), p.resolve()) for a in q.parents}
    closed = {a: a.stat().st_mode for a in ancestors if not a.stat().st_mode & stat.S_IXOTH}
    for folder, mode in closed.items():
        folder.chmod(mode | stat.S_IXOTH)
    try:
        yield path
    finally:
        for folder, mode in closed.items():
            folder.chmod(mode)
        shutil.rmtree(path)


def _as_nobody(home: Path) -> tuple[list[str], dict[str, str]]:
    """The `edgetune` command run as user nobody, and its environment (HOME, temporary files and
    records library in `home`): this Python if nobody can run it, else the system's of the same
    version, with this one's packages."""
    user = pwd.getpwnam("nobody")
    os.chown(home, user.pw_uid, user.pw_gid)
    site = [p for p in sys.path if p.endswith("site-packages")]
    env = {"PATH": os.environ["PATH"], "HOME": str(home), "TMPDIR": str(home),
           "EDGETUNE_LIBRARY": str(home / "library"),
           "PYTHONPATH": os.pathsep.join([str(REPO_DIR), *site])}  # fmt: skip
    for python in [sys.executable, f"/usr/bin/python3.{sys.version_info.minor}"]:
        probe = subprocess.run([*NOBODY, python, "-c", "import edgetune, tvm.relax"], env=env,
                               capture_output=True, text=True)  # fmt: skip
        if probe.returncode == 0:
            return [*NOBODY, python, "-m", "edgetune"], env
    raise AssertionError(f"user nobody cannot run edgetune: {probe.stderr[-400:]}")


def _checksums(folder: Path) -> dict[str, str]:
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
            for p in sorted(folder.rglob("*"))}  # fmt: skip


def test_read_only_records_folder_is_read_but_never_written(cli, shared_dir):
    """As a user without write access (root writes through any mode bits): `build` and
    `report` read the folder and write elsewhere; `tune` into it is one line, exit 2."""
    recs, home = shared_dir / "recs", shared_dir / "home"
    tune = ["tune", "tiny_fp32", "--records", recs, "--search", "ms", "--no-library",
            "--final-top", 0]  # fmt: skip
    assert cli(*tune, "--trials", "4").code == 0
    for p in [recs, *recs.rglob("*")]:
        p.chmod(0o555 if p.is_dir() else 0o444)
    before = _checksums(recs)
    home.mkdir()
    edgetune, env = _as_nobody(home)

    def run(*args) -> subprocess.CompletedProcess:
        return subprocess.run([*edgetune, *map(str, args)], env=env, capture_output=True,
                              text=True)  # fmt: skip

    built = run("build", "tiny_fp32", "--records", recs, "-o", home / "tiny.so")
    assert built.returncode == 0, built.stderr
    assert f"wrote {home / 'tiny.so'}" in built.stdout + built.stderr
    from edgetune.runtime import read_artifact_meta

    assert read_artifact_meta(home / "tiny.so", "host").tuned_tasks >= 1
    report = run("report", recs, "--format", "md", "-o", home / "report.md")
    assert report.returncode == 0, report.stderr
    assert "tiny_fp32" in (home / "report.md").read_text()
    refused = run(*tune, "--trials", "8")
    assert refused.returncode == 2, refused.stderr
    assert "Traceback" not in refused.stderr
    assert refused.stderr.strip().splitlines()[-1] == (
        f"edgetune: error: records folder {recs} is not writable (Permission denied)"
    )
    assert _checksums(recs) == before


def test_one_broken_board_file_does_not_hide_the_others(cli, tmp_path, monkeypatch):
    (tmp_path / "broken.toml").write_text('name = "broken"\n[target]\nkind = "llvm"\n'
                                          '[hardware]\ncores = "four"\n')  # fmt: skip
    monkeypatch.setenv("EDGETUNE_BOARDS", str(tmp_path))
    result = cli("boards", "--json")
    assert result.code == 2
    assert {b["name"] for b in json.loads(result.out)} >= {"host", "rpi3", "qemu-a53"}
    assert result.err.strip() == (
        f"edgetune: error: board file {tmp_path / 'broken.toml'}: 'hardware.cores' must be an "
        "integer or \"auto\", got 'four' (str)"
    )


def test_known_hosts_with_certificate_authority_and_revoked_lines(tmp_path):
    from edgetune.farm.drivers.ssh import _load_known_hosts

    ok = "AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"
    bad = "AAAAC3NzaC1lZDI1NTE5AAAAIHn0eRpq1yw0bi6cUN3Yh8J8p4zv2M5ej7Q8h1mYHQ7A"
    (tmp_path / "known_hosts").write_text(
        f"@cert-authority *.example.com ssh-ed25519 {ok}\n"
        f"@revoked board.example.com ssh-ed25519 {bad}\n"
        f"board.example.com ssh-ed25519 {ok}\n"
        "# a comment\n"
        "garbage line\n"
    )
    client = paramiko.SSHClient()
    revoked = _load_known_hosts(client, tmp_path / "known_hosts")
    assert revoked == {bad}
    keys = client.get_host_keys()
    assert list(keys.keys()) == ["board.example.com"]
    assert keys["board.example.com"]["ssh-ed25519"].get_base64() == ok


def test_a_reader_that_closes_the_output_early_ends_it_quietly():
    """`edgetune tasks ... | head -1`: the pipe closes before the table is written; the command
    ends like `cat` would (exit 141, SIGPIPE's code) without a traceback."""
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader has gone before anything is written
    try:
        argv = [sys.executable, "-m", "edgetune", "tasks", "tiny_fp32", "--json"]
        run = subprocess.run(argv, env=ENV, stdout=write_end, stderr=subprocess.PIPE, text=True)
    finally:
        os.close(write_end)
    assert run.returncode == 128 + signal.SIGPIPE
    assert "Traceback" not in run.stderr and "BrokenPipeError" not in run.stderr, run.stderr


def _limited(cmd: list[str], max_bytes: int, cwd: Path) -> subprocess.CompletedProcess:
    """`edgetune cmd` with files capped at `max_bytes` (a full disk, as a write sees it)."""
    import resource

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (max_bytes, max_bytes))

    return subprocess.run([sys.executable, "-m", "edgetune", *cmd], env=ENV, cwd=cwd,
                          preexec_fn=cap, capture_output=True, text=True)  # fmt: skip


def test_records_not_written_for_want_of_space_stop_the_tune_and_it_resumes(tmp_path):
    """MetaSchedule's C++ writer ignored the failed writes: the tune went on and exited 0 with
    its records cut short. Now it stops at that batch, in one line, and resumes."""
    tune = ["tune", "tiny_fp32", "--trials", "8", "--records", "r", "--no-library",
            "--final-top", "0"]  # fmt: skip
    cut = _limited(tune, 300_000, tmp_path)  # tiny_fp32's workload file is ~320 kB
    assert cut.returncode == 2 and "Traceback" not in cut.stderr, cut.stderr
    assert "records were not all written to r (disk full, a quota or a file size limit?)" in (
        cut.stderr
    )
    again = subprocess.run([sys.executable, "-m", "edgetune", *tune, "--json"], env=ENV,
                           cwd=tmp_path, capture_output=True, text=True)  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["records_total"] >= 8
    page = _limited(["report", "r", "-o", "page.html"], 2_000, tmp_path)  # a page: ~4 kB
    assert page.returncode == 1 and "Traceback" not in page.stderr, page.stderr
    assert "error: File too large: " in page.stderr and "run the same command again" in page.stderr


def test_a_path_the_locale_cannot_decode_is_one_line(tmp_path):
    """An ASCII locale with Python's UTF-8 mode off: a non-ASCII path reached TVM as surrogate
    escapes (a traceback deep in the records lock, or TVM calling the database damaged)."""
    env = {**ENV, "LC_ALL": "C", "PYTHONUTF8": "0"}
    recs = tmp_path / "rä"
    tune = [sys.executable, "-m", "edgetune", "tune", "tiny_fp32", "--records", str(recs)]
    done = subprocess.run(tune, env=env, capture_output=True, text=True)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    shown = f"'{recs.parent}/r\\xe4'"  # stderr escapes what ASCII cannot show
    assert f"{shown} is not text in this locale's encoding (ascii)" in done.stderr
    assert "LANG=C.UTF-8" in done.stderr and not recs.exists()


def test_records_folder_as_a_dangling_link_a_file_or_a_loop(cli, tmp_path):
    """A link to a folder not made yet (a bigger disk) makes it; a file or a link loop is
    named as such (all three said 'File exists')."""
    (tmp_path / "link").symlink_to(tmp_path / "disk" / "recs")
    tune = ["tune", "tiny_fp32", "--trials", 0, "--no-library", "--final-top", 0]
    assert cli(*tune, "--records", tmp_path / "link").code == 0
    assert (tmp_path / "disk" / "recs" / "edgetune-records.json").is_file()
    (tmp_path / "file").write_text("")
    res = cli(*tune, "--records", tmp_path / "file")
    assert res.code == 2 and f"{tmp_path / 'file'} is a file, not a folder" in res.err
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    res = cli(*tune, "--records", tmp_path / "a")
    assert res.code == 2 and f"records folder {tmp_path / 'a'} is a symlink loop" in res.err


def test_a_model_file_changed_since_it_was_tuned_is_named_so(cli, tmp_path):
    model = fully_connected(tmp_path / "fc.tflite", units=8)
    tune = ["tune", model, "--trials", 0, "--records", tmp_path / "r", "--no-library",
            "--final-top", 0]  # fmt: skip
    assert cli(*tune).code == 0
    fully_connected(tmp_path / "fc.tflite", units=16)
    res = cli(*tune)
    assert res.code == 2 and "was tuned for another version of model 'fc'" in res.err
    assert "the model file changed since" in res.err


def test_the_default_library_follows_xdg_cache_home(monkeypatch, tmp_path):
    from edgetune.paths import cache_dir

    monkeypatch.delenv("EDGETUNE_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cache_dir() == tmp_path / "edgetune"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative")  # ignored, as the XDG spec says
    assert cache_dir() == Path.home() / ".cache" / "edgetune"


def test_the_resume_command_is_the_command_as_given():
    """The resume command kept the folder's options only: --seed, --per-round, --warm-start,
    the timeouts, --quiet and --json were dropped (a resumed search went on otherwise)."""
    import shlex

    from edgetune.cli.main import build_parser
    from edgetune.cli.resume import resume_command

    given = ["tune", "/m dir/m.tflite", "--records", "r", "--trials", "30", "--seed", "3",
             "--per-round", "2", "--warm-start", "w", "--build-timeout", "20", "--run-timeout",
             "7", "--build-workers", "1", "--input-shape", "x=1,2", "--quiet",
             "--json"]  # fmt: skip
    parser = build_parser()
    said = shlex.split(resume_command(parser.parse_args(given)))
    assert said[:3] == ["edgetune", "tune", "/m dir/m.tflite"]
    for option in ("--seed", "--per-round", "--warm-start", "--build-timeout", "--quiet"):
        assert option in said
    assert parser.parse_args(said[1:]) == parser.parse_args(given)


FINALIZER_SIGNAL = """
import os, signal
from edgetune import stop
stop.handle_signals()
class Pool:
    def __del__(self):  # a worker pool shutting down at the end of a tune
        os.kill(os.getpid(), signal.SIGTERM)
        for _ in range(10 ** 6):
            pass
Pool()
print("requested", stop.requested())
"""


def test_a_signal_inside_a_finalizer_is_kept_without_a_traceback():
    """The first signal landing in a worker pool's __del__ right after the final phase printed
    "Exception ignored in ... Traceback ... KeyboardInterrupt": the stop is kept (the command
    ends interrupted, once), no traceback."""
    done = subprocess.run([sys.executable, "-c", FINALIZER_SIGNAL], env=ENV, capture_output=True,
                          text=True, timeout=60)  # fmt: skip
    assert done.stdout.strip() == "requested True" and done.stderr == "", done.stderr
