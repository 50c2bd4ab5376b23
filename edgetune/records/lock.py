"""One writer per records folder: an OS file lock held by the process that writes it.

Two `edgetune tune` runs on one folder would interleave their lines in MetaSchedule's files
(records refer to workloads by line number). The writer holds `flock` on `edgetune.lock` for
as long as the process lives; the kernel drops it when the process dies, so a lock left by a
killed run is simply taken over. The file says who holds it, for the second writer's message.
"""

from __future__ import annotations

import fcntl
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import RecordsError

LOCK = "edgetune.lock"
_held: dict[Path, int] = {}  # folder -> open descriptor holding its lock (this process)


def lock_for_writing(folder: Path) -> None:
    """Hold the folder's writer lock (idempotent within a process); RecordsError if another
    process holds it or the folder cannot be written."""
    folder = folder.resolve()
    if folder in _held:
        return
    path = folder / LOCK
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as err:
        raise RecordsError(f"records folder {folder} is not writable ({err.strerror})") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 4096, 0).decode(errors="replace").strip() or "another process"
        os.close(fd)
        raise RecordsError(
            f"records folder {folder} is being written by {holder}: wait for it to finish, "
            "or use another records folder"
        ) from None
    os.ftruncate(fd, 0)
    command = " ".join(os.path.basename(a) if i == 0 else a for i, a in enumerate(sys.argv))
    holder = f"pid {os.getpid()} ({command}, since {time.strftime('%H:%M:%S')})"
    os.pwrite(fd, os.fsencode(holder), 0)  # arguments as the OS gave them, whatever the locale
    _held[folder] = fd


def is_locked_by_other(folder: Path) -> bool:
    """Whether another process holds the folder's writer lock (readers do not repair then)."""
    folder = folder.resolve()
    if folder in _held or not (folder / LOCK).is_file():
        return False
    try:
        fd = os.open(folder / LOCK, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        return False
    except BlockingIOError:
        return True
    finally:
        os.close(fd)


@contextmanager
def held(folder: Path) -> Iterator[None]:
    """Hold the folder's writer lock for a block, waiting for another holder to finish.

    For folders many processes share (the records library): each writes in short turns."""
    try:
        fd = os.open(folder / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as err:
        raise RecordsError(f"{folder} is not writable ({err.strerror})") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing drops the lock
