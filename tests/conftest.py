"""Shared fixtures: shipped models, a CLI runner, and small TFLite byte surgery for bad input."""

from __future__ import annotations

import faulthandler
import os
import shutil
import signal
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from edgetune.cli.main import main
from edgetune.paths import MODELS_DIR


@dataclass
class CliResult:
    code: int
    out: str
    err: str


def pytest_configure(config):
    """Before any test module is imported (some build subprocess environments at import time):
    the whole run uses a throwaway records library, never the user's."""
    os.environ["EDGETUNE_LIBRARY"] = tempfile.mkdtemp(prefix="edgetune-test-library-")
    global _TERM_DUMP  # noqa: PLW0603 - faulthandler writes to it until the process ends
    _TERM_DUMP = os.fdopen(os.dup(2), "w")  # the real stderr: fd 2 is captured during tests


_TERM_DUMP = None


@pytest.fixture(autouse=True)
def _name_a_sigterm():
    """A SIGTERM ending the run (CI sees exit 143 and no report) prints every thread's stack
    first, naming the test it hit. Registered per test: an in-process `tune` resets the
    handler when it restores its own SIGTERM handling."""
    faulthandler.register(signal.SIGTERM, file=_TERM_DUMP, all_threads=True, chain=True)
    yield


@pytest.fixture(autouse=True, scope="module")
def _module_library(tmp_path_factory):
    """A test file's module-scoped fixtures (e.g. one tune shared by its tests) get a records
    library of their own (autouse: set up before the file's other module fixtures)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("EDGETUNE_LIBRARY", str(tmp_path_factory.mktemp("library")))
        yield


@pytest.fixture(autouse=True)
def _own_library(tmp_path, monkeypatch):
    """Every test has its own records library: `tune` never adds to the user's, and no test
    reuses what another one tuned."""
    monkeypatch.setenv("EDGETUNE_LIBRARY", str(tmp_path / "library"))


@pytest.fixture
def cli(capsys):
    """Run `edgetune ARGS...` in-process; returns exit code, stdout, stderr."""

    def run(*args: str) -> CliResult:
        code = main([str(a) for a in args])
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run


@pytest.fixture
def model_file(tmp_path):
    """Copy a shipped model into the test's temp dir and return its path."""

    def copy(name: str) -> Path:
        dst = tmp_path / f"{name}.tflite"
        shutil.copy(MODELS_DIR / f"{name}.tflite", dst)
        return dst

    return copy


def set_operator_code(buf: bytes, op_code_index: int, builtin: int) -> bytes:
    """Rewrite one OperatorCode entry of a .tflite flatbuffer in place (both code fields)."""
    import tflite

    data = bytearray(buf)
    code = tflite.Model.GetRootAsModel(data, 0).OperatorCodes(op_code_index)
    tab = code._tab
    deprecated = tab.Offset(4)  # field 0: deprecated_builtin_code (int8)
    current = tab.Offset(10)  # field 3: builtin_code (int32)
    assert deprecated and current, "operator code fields are not stored explicitly"
    data[tab.Pos + deprecated] = min(builtin, 127)
    data[tab.Pos + current : tab.Pos + current + 4] = builtin.to_bytes(4, "little")
    return bytes(data)
