"""What a fresh machine needs: pinned installs, logging that survives any test runner, and a
board's toolchain checked before work starts."""

from __future__ import annotations

import json
import logging
import re
import tomllib
from importlib.metadata import version

import pytest

from edgetune.board import load_board
from edgetune.paths import REPO_DIR
from edgetune.search.logs import MS_LOGGER, task_loggers


def _requirement_names(specs: list[str]) -> set[str]:
    return {re.split(r"[<>=!~\[; ]", s, maxsplit=1)[0].lower() for s in specs}


def _pins() -> dict[str, str]:
    pins = {}
    for line in (REPO_DIR / "constraints.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, _, ver = line.partition("==")
            assert ver, f"constraints.txt: '{line}' is not an exact pin"
            pins[name.lower().replace("_", "-")] = ver
    return pins


def test_every_dependency_is_pinned_and_installed_at_its_pin():
    project = tomllib.loads((REPO_DIR / "pyproject.toml").read_text())["project"]
    names = _requirement_names(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        names |= _requirement_names(extra)
    pins = _pins()
    assert names - set(pins) == set(), "dependencies missing from constraints.txt"
    for name in names:
        assert version(name) == pins[name], f"{name} installed {version(name)}, pin {pins[name]}"
    assert pins["apache-tvm"] == "0.27.0.post1" and pins["apache-tvm-ffi"] == "0.1.14.post1"


def test_meta_schedule_loggers_tolerate_foreign_unnamed_handlers(tmp_path):
    """pytest 9 (or an application) puts an unnamed handler on MetaSchedule's logger."""
    foreign = logging.StreamHandler()
    ms = logging.getLogger(MS_LOGGER)
    ms.addHandler(foreign)
    try:
        first = task_loggers(tmp_path / "a", ["conv", "dense"])
        first[0].info("first run")
        second = task_loggers(tmp_path / "b", ["conv", "dense"])
        second[0].info("second run")
        logging.getLogger(f"{MS_LOGGER}.task_scheduler").warning("scheduler note")
        for h in ms.handlers:
            h.flush()
        assert foreign in ms.handlers  # kept, not replaced
        ours = [h for h in ms.handlers if (h.get_name() or "").startswith("edgetune:")]
        assert len(ours) == 2  # file + console, once (not one set per run)
        a_logs = {p.name: p.read_text() for p in (tmp_path / "a" / "logs").iterdir()}
        b_logs = {p.name: p.read_text() for p in (tmp_path / "b" / "logs").iterdir()}
        task0 = f"{MS_LOGGER}.logging.task_0_conv.log"
        assert "first run" in a_logs[task0] and "second run" not in a_logs[task0]
        assert "second run" in b_logs[task0]
        assert "scheduler note" in b_logs[f"{MS_LOGGER}.logging.task_scheduler.log"]
        assert not ms.propagate
    finally:
        ms.removeHandler(foreign)


def test_two_tunes_in_one_process_with_an_unnamed_handler(cli, tmp_path):
    ms = logging.getLogger(MS_LOGGER)
    foreign = logging.StreamHandler()
    ms.addHandler(foreign)
    try:
        for run in ("r1", "r2"):
            result = cli(
                "tune",
                "tiny_fp32",
                "--trials",
                4,
                "--records",
                tmp_path / run,
                "--search",
                "ms",
                "--no-library",
                "--final-top",
                0,
                "--json",
            )
            assert result.code == 0, result.err
            assert json.loads(result.out)["records_total"] == 4
    finally:
        ms.removeHandler(foreign)


def _board_with_toolchain(tmp_path, monkeypatch, toolchain: str) -> None:
    (tmp_path / "boards").mkdir()
    (tmp_path / "toolchains").mkdir()
    (tmp_path / "toolchains" / "broken.toml").write_text(toolchain)
    host = (REPO_DIR / "boards" / "host.toml").read_text()
    (tmp_path / "boards" / "crossless.toml").write_text(
        host.replace('name = "host"', 'name = "crossless"').replace(
            'toolchain = "host"', 'toolchain = "broken"'
        )
    )
    monkeypatch.setenv("EDGETUNE_BOARDS", str(tmp_path / "boards"))
    monkeypatch.setenv("EDGETUNE_TOOLCHAINS", str(tmp_path / "toolchains"))
    assert load_board("crossless").toolchain_name == "broken"


@pytest.mark.parametrize(
    "toolchain, problem",
    [
        (
            'name = "broken"\ncc = "no-such-gcc"\ninstall_hint = "apt-get install no-such-gcc"\n',
            "compiler 'no-such-gcc' not found",
        ),
        # a compiler that runs but cannot link (a library it needs is missing, as crti.o is on
        # a machine with gcc-aarch64-linux-gnu but no libc6-dev-arm64-cross)
        (
            'name = "broken"\ncc = "gcc"\noptions = ["-lno_such_c_library"]\n'
            'install_hint = "apt-get install libc6-dev"\n',
            "cannot find -lno_such_c_library",
        ),
        # a sysroot that is not there (the cross gcc would link against its own C library)
        (
            'name = "broken"\ncc = "gcc"\noptions = ["--sysroot=/no/such/sysroot"]\n'
            'install_hint = "apt-get install libc6-dev"\n',
            "its sysroot '/no/such/sysroot' is not a folder",
        ),
    ],
)
def test_missing_toolchain_is_one_clear_line_before_any_work(
    cli, tmp_path, monkeypatch, toolchain, problem
):
    _board_with_toolchain(tmp_path, monkeypatch, toolchain)
    recs = tmp_path / "recs"
    for args in (
        ("build", "tiny_fp32", "--board", "crossless", "-o", tmp_path / "m.so"),
        ("tune", "tiny_fp32", "--board", "crossless", "--records", recs),
    ):
        result = cli(*args)
        assert result.code == 2
        lines = [ln for ln in result.err.splitlines() if ln.strip()]
        assert len(lines) == 1, result.err
        msg = lines[0]
        assert "board 'crossless'" in msg and "toolchain 'broken'" in msg
        assert "broken.toml" in msg and problem in msg and "install it: apt-get install" in msg
        assert "Traceback" not in result.err
    assert not recs.exists()  # tune failed before creating the records folder
    assert not (tmp_path / "m.so").exists()


def test_a_wheel_carries_the_shipped_boards_toolchains_and_models(tmp_path):
    """A non-editable install (a wheel) has no checkout around it: the board and toolchain files
    go under the environment's share/edgetune (found by edgetune/paths.py), models in the
    package."""
    import shutil
    import subprocess
    import sys
    import zipfile

    source = tmp_path / "src"  # a copy: building writes build/ beside pyproject.toml
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO_DIR / name, source / name)
    for name in ("edgetune", "boards", "toolchains"):
        shutil.copytree(REPO_DIR / name, source / name, ignore=shutil.ignore_patterns("__py*"))
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q",
         "-w", str(tmp_path), str(source)], capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    (wheel,) = tmp_path.glob("edgetune-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    data = next(n.split("/")[0] for n in names if ".data/" in n)
    for kind in ("boards", "toolchains"):
        for f in (REPO_DIR / kind).glob("*.toml"):
            assert f"{data}/data/share/edgetune/{kind}/{f.name}" in names
    assert "edgetune/models/tiny_fp32.tflite" in names


def test_boards_and_toolchains_are_found_outside_a_checkout(tmp_path, monkeypatch):
    import edgetune.paths as paths

    monkeypatch.setattr(paths, "REPO_DIR", tmp_path / "site-packages")
    monkeypatch.setattr(paths.sys, "prefix", str(tmp_path / "env"))
    monkeypatch.delenv("EDGETUNE_BOARDS", raising=False)
    share = tmp_path / "env" / "share" / "edgetune"
    assert paths.board_dirs() == [share / "boards"]
    assert paths.toolchain_dirs()[-1] == share / "toolchains"
