"""Detached process groups: servers and trackers are started in a session of their own and
stopped with `kill -- -PGID`, because TVM's rpc_server leaves its listener child (a
popen_worker) alive as an orphan when only the parent is killed."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

import psutil

LAUNCH_MARK = "--- edgetune: started at "


def launch(cmd: list[str], log: Path, env: dict[str, str] | None = None) -> int:
    """Start `cmd` as the leader of a new session appending to `log` after a LAUNCH_MARK line
    (what this start printed is what follows the last one). Returns its pid (= pgid)."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        out.write(f"{LAUNCH_MARK}{time.strftime('%Y-%m-%d %H:%M:%S')}\n".encode())
        out.flush()
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    return proc.pid


def launch_log_tail(log: Path) -> str:
    """The last line the latest `launch` writing to `log` printed (the log holds every
    launch's: an earlier one's last words would be read as this one's)."""
    if not log.is_file():
        return "(no log)"
    text = log.read_text(errors="replace", encoding="utf-8")
    lines = [ln for ln in text.split(LAUNCH_MARK)[-1].splitlines()[1:] if ln.strip()]
    return lines[-1] if lines else "it printed nothing (killed, or crashed before its first line)"


def group_alive(pgid: int) -> bool:
    """True while a live (non-zombie) process of the group exists (never for "no group", 0)."""
    if pgid <= 0:
        return False
    _reap(pgid)
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    # killed members linger as zombies until reaped (orphans by init, later under load)
    for proc in psutil.process_iter(["status"]):
        try:
            if os.getpgid(proc.pid) == pgid and proc.info["status"] != psutil.STATUS_ZOMBIE:
                return True
        except (ProcessLookupError, psutil.Error):
            continue
    return False


def kill_group(pgid: int, grace_s: float = 2.0) -> None:
    """SIGTERM the whole group, then SIGKILL what is left after `grace_s`. Refuses 0 and our own
    group: killpg(0) signals the caller's group, which would end this process (and a CI job)."""
    if pgid <= 0 or pgid == os.getpgrp():
        raise ValueError(f"refusing to signal process group {pgid}: not a detached group")
    for sig, wait in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 1.0)):
        try:
            os.killpg(pgid, sig)
        except (ProcessLookupError, PermissionError):
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if not group_alive(pgid):
                return
            time.sleep(0.05)


def _reap(pid: int) -> None:
    """Collect the exit status if `pid` is our own child (else it lingers as a zombie)."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
