"""Probe-loading a library in a child process before this process loads it.

Checksums catch damage, not a library that is intact but crashes the dynamic loader or its own
initializers (a constructor that faults, a foreign library re-wrapped with a valid trailer).
Loading it here would end edgetune with a signal and no message; the child dies instead and the
user gets one line. The child is a bare interpreter (`-I -S`, ctypes only, no TVM), ~10 ms.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from ..errors import InputError, last_line

# RTLD_LAZY: the library's calls into TVM stay unresolved in a child without TVM; loading still
# maps it, applies its relocations and runs its initializers, which is where a load crashes
_LOAD = "import ctypes, os, sys; ctypes.CDLL(sys.argv[1], os.RTLD_LAZY | os.RTLD_LOCAL)"
PROBE_TIMEOUT_S = 60


def probe_load(path: str | Path) -> None:
    """Load `path` in a child process; InputError if that crashes, hangs or fails."""
    path, full = Path(path), str(Path(path).resolve())
    command = [sys.executable, "-I", "-S", "-c", _LOAD, full]
    try:
        child = subprocess.run(command, capture_output=True, text=True, timeout=PROBE_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise InputError(
            f"{path}: the library hung while loading (over {PROBE_TIMEOUT_S} s); rebuild it "
            "with `edgetune build`"
        ) from None
    if child.returncode < 0:
        raise InputError(
            f"{path}: the library crashed while loading (signal {_signal_name(-child.returncode)})"
            "; rebuild it with `edgetune build`"
        )
    if child.returncode != 0:
        last = last_line(child.stderr, "no message")
        detail = last.removeprefix("OSError: ").removeprefix(f"{full}: ")
        raise InputError(f"{path}: the library cannot be loaded ({detail})")


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return str(number)
