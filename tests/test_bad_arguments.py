"""Numbers with a floor, output paths and shapes that cannot work: each refused in one line
(exit 2) before any build, search or run, where they used to reach TVM, NumPy or the linker
and end in a traceback after the work; outputs written whole."""

from __future__ import annotations

import json
import re

import pytest

from edgetune.errors import InputError
from edgetune.outputs import output_file, written_whole
from edgetune.paths import REPO_DIR

NUMBERS = [
    (["tune", "tiny_fp32", "--per-round", "-3"], "--per-round: must be 1 or more, not -3"),
    (["tune", "tiny_fp32", "--build-workers", "0"], "--build-workers: must be 1 or more"),
    (["tune", "tiny_fp32", "--run-timeout", "-1"], "--run-timeout: must be more than 0 seconds"),
    (["tune", "tiny_fp32", "--build-timeout", "0"], "--build-timeout: must be more than 0"),
    (["tune", "tiny_fp32", "--seed", "-1"], "--seed: must be 0 or more, not -1"),
    (["tune", "tiny_fp32", "--trials", "-5"], "--trials: must be 0 or more, not -5"),
    (["tune", "tiny_fp32", "--final-top", "-1"], "--final-top: must be 0 (off) or more"),
    (["compare", "tiny_fp32", "--threads", "0"], "--threads: must be 1 or more, not 0"),
    (["compare", "tiny_fp32", "--rounds", "-1"], "--rounds: must be 1 or more"),
    (["profile", "tiny_fp32", "--top", "-1"], "--top: must be 1 or more"),
    (["run", "x.so", "--repeat", "0"], "--repeat: must be 1 or more, not 0"),
    (["run", "x.so", "--steps", "0"], "--steps: must be 1 or more, not 0"),
    (["compare", "tiny_fp32", "--steps", "-2"], "--steps: must be 1 or more, not -2"),
    (["space", "tiny_fp32", "0", "--samples", "-2"], "--samples: must be 0 or more"),
]


@pytest.mark.parametrize("args,message", NUMBERS, ids=[" ".join(a[2:]) for a, _ in NUMBERS])
def test_a_number_below_its_floor_is_an_argument_error(args, message, cli, capsys):
    with pytest.raises(SystemExit) as stop:
        cli(*args)
    err = capsys.readouterr().err
    assert stop.value.code == 2 and f"argument {message}" in err and "Traceback" not in err


def test_bad_outputs_and_shapes_are_refused_before_the_work(tmp_path, cli):
    folder = tmp_path / "a-folder"
    folder.mkdir()
    for args, message in [
        (["build", "tiny_fp32", "-o", folder], f"-o {folder}: a folder"),
        (["build", "tiny_fp32", "-o", "/proc/edgetune.so"], "cannot write there"),
        (["report", tmp_path, "-o", "/proc/r.html"], "-o /proc/r.html: cannot write there"),
        (["tasks", "tiny_fp32", "--input-shape", "x=100000000,29,13"], "more than one tensor"),
        (["tasks", "tiny_fp32", "--input-shape", "a=1,2", "--input-shape", "a=1,3"],
         "--input-shape given more than once for a"),
    ]:  # fmt: skip
        res = cli(*args)
        lines = res.err.strip().splitlines()
        assert res.code == 2 and "Traceback" not in res.err, (args, res.err)
        assert lines[-1].startswith("edgetune: error: ") and message in lines[-1], lines[-1]
    assert list(folder.iterdir()) == []


def test_run_says_which_file_it_wrote_and_refuses_a_folder(tmp_path, cli):
    lib = tmp_path / "m.so"
    assert cli("build", "tiny_fp32", "-o", lib).code == 0
    res = cli("run", lib, "--repeat", "1", "--output", tmp_path / "out.txt")
    assert res.code == 0 and f"outputs written to {tmp_path / 'out.txt.npy'}" in res.out
    assert (tmp_path / "out.txt.npy").is_file()
    res = cli("run", lib, "--repeat", "1", "--output", tmp_path)
    assert res.code == 2 and f"--output {tmp_path}: a folder" in res.err


def test_an_output_is_written_whole_or_not_at_all(tmp_path):
    """A write that fails (a kill, a full disk) leaves the previous file as it was and no part
    of the new one (`edgetune build` links through this: an interrupted build keeps the last
    good .so)."""
    out = output_file(tmp_path / "sub" / "model.so", "-o")
    out.write_bytes(b"the last good build")
    with pytest.raises(RuntimeError), written_whole(out) as partial:
        partial.write_bytes(b"half a libr")
        raise RuntimeError("killed")
    assert out.read_bytes() == b"the last good build"
    assert [p.name for p in out.parent.iterdir()] == ["model.so"]
    with written_whole(out) as partial:
        partial.write_bytes(b"a new build")
    assert out.read_bytes() == b"a new build" and len(list(out.parent.iterdir())) == 1
    with pytest.raises(InputError, match="a folder"):
        output_file(tmp_path, "-o")


def test_a_board_file_with_counts_below_their_floor_is_refused(tmp_path, cli):
    host = (REPO_DIR / "boards" / "host.toml").read_text().replace('name = "host"', 'name = "b"')
    for key, value, message in [
        ("cores", "0", "'hardware.cores' must be 1 or more, got 0"),
        ("repeat", "-1", "'measure.repeat' must be 1 or more, got -1"),
        ("run_timeout_s", "0", "'measure.run_timeout_s' must be more than 0 seconds"),
    ]:
        board = tmp_path / "b.toml"
        board.write_text(re.sub(rf"(?m)^{key} = .*$", f"{key} = {value}", host))
        res = cli("tasks", "tiny_fp32", "--board", board)
        assert res.code == 2 and message in res.err, (key, res.err)


def test_messages_name_what_is_wrong(tmp_path, cli):
    """A board path that is not there, a model path that is a device, a hand-edited compare
    JSON given to `report --with`: one line saying so, not "unknown board", "not found" or a
    traceback."""
    recs = tmp_path / "recs"
    assert cli("tune", "tiny_fp32", "--trials", "2", "--records", recs, "--no-library",
               "--final-top", "0").code == 0  # fmt: skip
    edited = tmp_path / "compare.json"
    edited.write_text('{"model": "m", "edgetune": null, "litert": {"median_ms": 1.0}}')
    for args, message in [
        (["tasks", "tiny_fp32", "--board", tmp_path / "missing.toml"], "missing.toml not found"),
        (["tasks", "/dev/null"], "/dev/null: not a regular file"),
        (["report", recs, "--with", edited, "-o", tmp_path / "r.html"],
         f"--with {edited}: a field missing or of the wrong type"),
    ]:  # fmt: skip
        res = cli(*args)
        assert res.code == 2 and "Traceback" not in res.err, (args, res.err)
        assert message in res.err.strip().splitlines()[-1], res.err


def test_compare_with_more_threads_than_cores_says_so(cli):
    import os

    threads = len(os.sched_getaffinity(0)) + 1
    res = cli("compare", "tiny_fp32", "--threads", threads, "--rounds", "1", "--repeat", "2",
              "--json")  # fmt: skip
    assert res.code == 0, res.err
    result = json.loads(res.out)
    notes = result["timing_notes"]
    assert any(f"{threads} threads on {threads - 1} cores" in n for n in notes), notes
    # the text's ratio (edgetune over LiteRT) and the speedup (LiteRT over edgetune)
    assert result["latency_vs_litert"] * result["speedup_vs_litert"] == pytest.approx(1)


def test_a_refused_tune_leaves_no_records_folder_behind(tmp_path, cli):
    """A --warm-start that cannot work is refused before the records folder is made (it used to
    be left claimed for the model, with a stale lock)."""
    for extra, message in [
        (["--warm-start", tmp_path / "nowhere"], "not an edgetune records folder"),
        (["--warm-start", tmp_path, "--search", "ms"], "--warm-start needs --search family"),
    ]:
        res = cli("tune", "tiny_fp32", "--trials", "2", "--records", tmp_path / "r", *extra)
        assert res.code == 2 and message in res.err, res.err
        assert not (tmp_path / "r").exists()


def test_board_files_that_would_mislead_are_named(tmp_path, cli, monkeypatch):
    """A board in $EDGETUNE_BOARDS replacing a shipped one is noted by `boards`; a file naming
    its board otherwise than its file name (records are kept by the name) and an `mcpu` LLVM
    does not know (it compiled for a generic CPU, logging an error per kernel) are refused."""
    host = (REPO_DIR / "boards" / "host.toml").read_text()
    (tmp_path / "host.toml").write_text(re.sub(r"(?m)^cores = .*$", "cores = 1", host))
    monkeypatch.setenv("EDGETUNE_BOARDS", str(tmp_path))
    res = cli("boards", "--json")
    assert res.code == 0 and f"board 'host' is {tmp_path / 'host.toml'}, which hides " in res.err
    (used,) = [b for b in json.loads(res.out) if b["name"] == "host"]
    assert used["cores"] == 1 and used["file"] == str(tmp_path / "host.toml")
    (tmp_path / "mine.toml").write_text(host)
    res = cli("tasks", "tiny_fp32", "--board", "mine")
    assert res.code == 2 and "names its board 'host', but boards are found by their file" in res.err
    (tmp_path / "mine.toml").unlink()
    (tmp_path / "cpu.toml").write_text(
        host.replace('name = "host"', 'name = "cpu"').replace('"native"', '"znver99"')
    )
    res = cli("build", "tiny_fp32", "--board", "cpu", "-o", tmp_path / "x.so")
    assert res.code == 2 and "mcpu 'znver99' is not a CPU LLVM" in res.err, res.err
    assert "close: znver" in res.err and not (tmp_path / "x.so").exists()
    monkeypatch.setenv("EDGETUNE_BOARDS", str(REPO_DIR / "boards"))  # the shipped folder again
    res = cli("boards")
    assert res.code == 0 and "hides" not in res.err


def test_report_format_and_file_name_agree(tmp_path, cli):
    """`-o r.md` writes Markdown without --format; `--format md -o r.html` is refused."""
    recs = tmp_path / "recs"
    assert cli("tune", "tiny_fp32", "--trials", "2", "--records", recs, "--no-library",
               "--final-top", "0").code == 0  # fmt: skip
    assert cli("report", recs, "-o", tmp_path / "r.md").code == 0
    assert (tmp_path / "r.md").read_text().startswith("#")
    res = cli("report", recs, "--format", "md", "-o", tmp_path / "r.html")
    assert res.code == 2 and "its suffix says html, --format says md" in res.err
    assert not (tmp_path / "r.html").exists()


def test_an_input_file_of_another_rank_is_named_not_taken_for_a_shape(tmp_path, cli):
    """An input of another rank given to `compare`: the error names the file and the model
    input (it named an --input-shape never given); [N, ...] of the input's shape is N steps."""
    import numpy as np

    np.save(tmp_path / "steps.npy", np.zeros((3, 2, 32, 32, 3), np.float32))
    res = cli("compare", "tiny_fp32", "--input", tmp_path / "steps.npy", "--repeat", "1")
    assert res.code == 2 and "--input-shape" not in res.err, res.err
    assert "steps.npy: float32[3x2x32x32x3] does not match model input" in res.err
    np.save(tmp_path / "steps.npy", np.zeros((3, 1, 32, 32, 3), np.float32))
    res = cli("compare", "tiny_fp32", "--input", tmp_path / "steps.npy", "--repeat", "1",
              "--rounds", "1")  # fmt: skip
    assert res.code == 0 and "3 steps in sequence" in res.out, res.err


def test_build_takes_no_library_as_tune_does(tmp_path, cli):
    assert cli("build", "tiny_fp32", "--no-library", "-o", tmp_path / "a.so").code == 0
    res = cli("build", "tiny_fp32", "--no-library", "--library", "-o", tmp_path / "b.so")
    assert res.code == 2 and "--library and --no-library: give one of them" in res.err
    assert not (tmp_path / "b.so").exists()


@pytest.mark.parametrize(
    "target, message",
    [
        ('mattr = ["+neon", "+dotprd"]', "mattr: '+dotprd' is not a feature LLVM knows for "
         "aarch64-linux-gnu (close: +dotprod)"),
        ('mattr = ["+avx2"]', "mattr: '+avx2' is not a feature LLVM knows for aarch64"),
        ('mattr = ["neon"]', "mattr: each feature is '+name' or '-name', got 'neon'"),
        ('mattr = ["+neon"]\nmcpus = "cortex-a53"', "target: Unknown config option 'mcpus'"),
    ],
)  # fmt: skip
def test_target_mistakes_are_one_line_before_any_work(tmp_path, cli, target, message):
    """An LLVM feature it does not know was dropped with ~50 log lines; one without its sign, or
    an unknown target key, ended in a TVM traceback."""
    text = (REPO_DIR / "boards" / "rpi3.toml").read_text().replace('name = "rpi3"', 'name = "b"')
    board = tmp_path / "b.toml"
    board.write_text(re.sub(r"(?m)^mattr = .*$", target, text))
    res = cli("build", "tiny_fp32", "--board", board, "-o", tmp_path / "x.so")
    assert res.code == 2 and f"board file {board}: {message}" in res.err, res.err
    assert "Traceback" not in res.err and not (tmp_path / "x.so").exists()


def test_an_artifact_is_run_only_on_the_target_it_was_built_for(tmp_path, cli):
    """A board file copied from rpi3 for a Cortex-A55 that kept the name 'rpi3': its build
    (with A55-only dot-product instructions) was accepted by `run --board rpi3`."""
    text = (REPO_DIR / "boards" / "rpi3.toml").read_text()
    a55 = tmp_path / "a55.toml"
    a55.write_text(text.replace('"cortex-a53"', '"cortex-a55"'))
    assert (
        cli("build", "tiny_fp32", "--board", a55, "--no-library", "-o", tmp_path / "x.so").code == 0
    )
    res = cli("run", tmp_path / "x.so", "--board", "rpi3")
    assert res.code == 2 and "was built for board 'rpi3' targeting " in res.err, res.err
    assert (
        "mcpu=cortex-a55" in res.err and "now targets " in res.err and "mcpu=cortex-a53" in res.err
    )


def test_a_cross_board_without_its_toolchain_or_connection_is_refused_before_work(tmp_path, cli):
    """An aarch64 board file left with the host's toolchain linked x86 objects into an aarch64
    library (a linker dump after compiling); one without a [connection] (local) tuned by
    loading aarch64 candidates here, every one failing, and `run` blamed a missing file."""
    text = (REPO_DIR / "boards" / "rpi3.toml").read_text().replace('name = "rpi3"', 'name = "b"')
    board = tmp_path / "b.toml"
    board.write_text(re.sub(r"(?m)^toolchain = .*$", 'toolchain = "host"', text))
    res = cli("build", "tiny_fp32", "--board", board, "--no-library", "-o", tmp_path / "x.so")
    assert res.code == 2 and "board 'b' targets aarch64, but its toolchain 'host'" in res.err
    assert "links for x86_64" in res.err and not (tmp_path / "x.so").exists()
    local = re.sub(r"(?ms)^\[connection\].*?(?=^\[|\Z)", "", text)
    assert "[connection]" not in local
    board.write_text(local)
    tune = cli("tune", "tiny_fp32", "--board", board, "--records", tmp_path / "r", "--no-library")
    message = "board 'b' targets aarch64, and its connection is local (this x86_64 machine)"
    assert tune.code == 2 and message in tune.err and not (tmp_path / "r").exists(), tune.err
    assert (
        cli("build", "tiny_fp32", "--board", board, "--no-library", "-o", tmp_path / "x.so").code
        == 0
    )
    ran = cli("run", tmp_path / "x.so", "--board", board)
    assert ran.code == 2 and message in ran.err
    board.write_text(re.sub(r"(?m)^cores = .*$", "", text))  # it counted this machine's
    res = cli("tasks", "tiny_fp32", "--board", board)
    assert res.code == 2 and "[hardware] cores is needed: the board runs aarch64 code" in res.err


def test_an_unknown_rule_set_is_refused_before_a_tune_claims_its_folder(tmp_path, cli):
    text = (REPO_DIR / "boards" / "host.toml").read_text().replace('name = "host"', 'name = "b"')
    board = tmp_path / "b.toml"
    board.write_text(re.sub(r"(?m)^rule_set = .*$", 'rule_set = "cortex-a72"', text))
    res = cli("tune", "tiny_fp32", "--board", board, "--records", tmp_path / "r", "--no-library")
    assert res.code == 2 and f"board file {board}: rule_set: unknown rule set 'cortex-a72'" in (
        res.err
    )
    assert not (tmp_path / "r").exists()
