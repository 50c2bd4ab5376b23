"""Power-cycling a board with the command from its board file (run on the host by a shell:
it is the user's own command line, e.g. a smart-plug or USB-hub tool)."""

from __future__ import annotations

import subprocess

from ...errors import BoardError, last_line
from ..resources import PowerSpec


def power_cycle(board: str, spec: PowerSpec, timeout: float = 60.0) -> None:
    try:
        proc = subprocess.run(
            spec.command, shell=True, capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        raise BoardError(f"board '{board}': power command timed out: {spec.command}") from None
    if proc.returncode != 0:
        last = last_line(proc.stderr or proc.stdout, f"exit {proc.returncode}")
        raise BoardError(f"board '{board}': power command failed: {last}")
