"""One edgetune at a time times on this host: a machine-wide turn for each batch of candidates,
and for each timing of `run`, `compare`, `profile` and `ci` on the host board.

Two tunes on one host both see the other's work as foreign load and time on the cores they find
free, which are the same ones: each candidate then shares a core with the other's spinning
thread pool, and a 5 us kernel was recorded at ~4 ms (a scheduler time slice), a record later
reused from the library with 0 trials. A batch of host timing therefore runs under an OS file
lock in /tmp (not $TMPDIR, which may be per user), shared by every edgetune process of the
machine, any user's (a lock file another user made is opened read-only: flock needs no more): the
other tune keeps searching and building meanwhile, and its builds are then foreign load that
`free_cores.py` times around. A model timed by `run`, `compare`, `profile` or `ci` takes the
same turn, so neither it nor a tune's batch is timed against the other's thread pool. The
kernel drops the lock when its holder dies.
"""

from __future__ import annotations

import fcntl
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from .. import stop

LOCK_NAME = "edgetune-host-timing.lock"
SAY_AFTER_S = 2.0  # a wait longer than this is said once (the other holder's batch is long)
_depth = 0  # blocks of this process inside a held turn (nested blocks do not lock again)
waited_s = 0.0  # seconds this process waited for other processes' turns (benchmarks say it)
_unguarded_said = False  # the lock could not be opened, and this process said so


def lock_path() -> Path:
    """The machine-wide lock file (EDGETUNE_TIMING_LOCK overrides it, for tests)."""
    shared = Path("/tmp") if Path("/tmp").is_dir() else Path(tempfile.gettempdir())
    return Path(os.environ.get("EDGETUNE_TIMING_LOCK") or shared / LOCK_NAME)


def _open(path: Path) -> int | None:
    """A descriptor on the lock file: the existing file as it can be opened (another user's
    may be read-only to us, and systemd's fs.protected_regular refuses O_CREAT on it), else a
    new one writable by every user. None, said once, when there is none: timing goes on
    unguarded."""
    for _ in range(2):  # twice: another process may create it between our two opens
        try:
            return _open_existing(path)
        except FileNotFoundError:
            pass
        except PermissionError as err:
            return _unguarded(path, err.strerror)
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
        except OSError as err:
            return _unguarded(path, err.strerror)
        with suppress(OSError):
            os.fchmod(fd, 0o666)  # the umask would keep other users out
        return fd
    return _unguarded(path, "it keeps being replaced")


def _open_existing(path: Path) -> int:
    """The existing lock file, read-write or else read-only (flock needs no more)."""
    try:
        return os.open(path, os.O_RDWR)
    except PermissionError:
        return os.open(path, os.O_RDONLY)


def _unguarded(path: Path, reason: str | None) -> None:
    global _unguarded_said  # noqa: PLW0603 - said once a process
    if not _unguarded_said:
        print(f"edgetune: warning: cannot open the host timing lock {path} ({reason}): timings "
              "may overlap other edgetune processes' (EDGETUNE_TIMING_LOCK names another file)",
              file=sys.stderr)  # fmt: skip
        _unguarded_said = True


def _holder(fd: int) -> str:
    return os.pread(fd, 200, 0).decode(errors="replace").strip() or "another edgetune process"


@contextmanager
def timing_turn(path: Path | None = None) -> Iterator[None]:
    """Hold this host's timing turn for a block, waiting (and saying so) while another edgetune
    process times its own batch. Within a block that holds it already, the turn is this
    process's: a nested block does not wait for itself."""
    global _depth  # noqa: PLW0603 - how deep this process is in blocks holding the turn
    fd = None if _depth else _open(path or lock_path())
    try:
        if fd is not None:
            _take(fd)
        _depth += 1
        try:
            yield
        finally:
            _depth -= 1
    finally:
        if fd is not None:
            os.close(fd)  # closing drops the lock


def _take(fd: int) -> None:
    """Take the lock (waiting for its holder), then say in the file who holds it."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        _wait(fd)
    with suppress(OSError):  # a read-only descriptor holds the lock all the same
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"edgetune pid {os.getpid()}".encode(), 0)


def _wait(fd: int) -> None:
    """Block until the lock is free; say once who holds it when that takes long. A stop asked
    for meanwhile (the first Ctrl-C of a tune) ends the wait: the batch is not timed."""
    global waited_s  # noqa: PLW0603 - a process-wide tally, read by the benchmarks
    start, said = time.monotonic(), False
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            waited_s += time.monotonic() - start
            return
        except BlockingIOError:
            if stop.requested():  # Ctrl-C while another process times: nothing of ours runs
                raise KeyboardInterrupt from None
            if not said and time.monotonic() - start >= SAY_AFTER_S:
                print(
                    f"edgetune: waiting for {_holder(fd)} to finish timing on this host "
                    "(one edgetune process times on this host at a time)",
                    file=sys.stderr,
                    flush=True,
                )
                said = True
            time.sleep(0.05)
