"""Files the commands write (-o, --output, --out): checked before any work, written whole.

A bad output path (a folder, an unwritable place) is an InputError naming the option before a
build or a run spends minutes; a file is written under a temporary name beside it and renamed
into place, so a kill mid-write leaves the previous file whole. JSON written (files, stdout) is
strict: no NaN or Infinity."""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from . import stop
from .errors import InputError


def output_file(path: str | Path, option: str) -> Path:
    """`path` as a file a command may write: not a folder, its folder created and writable."""
    out = Path(path)
    if not str(path) or out.is_dir() or str(path).endswith(os.sep):
        raise InputError(f"{option} {path or repr('')}: a folder; name the file to write")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise InputError(f"{option} {path}: cannot create its folder ({err.strerror})") from None
    _check_writable(out.parent, f".{out.name}.", option, path)
    return out


def output_folder(path: str | Path, option: str) -> Path:
    """`path` as a folder a command may write files into: created if missing, not a file."""
    out = Path(path)
    if out.exists() and not out.is_dir():
        raise InputError(f"{option} {path}: a file, not a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise InputError(f"{option} {path}: cannot create it ({err.strerror})") from None
    _check_writable(out, ".edgetune-", option, path)
    return out


def _check_writable(folder: Path, prefix: str, option: str, path: str | Path) -> None:
    """InputError unless a file can be created in `folder` (os.access says yes to root, /proc
    says no: a file of its own is the test)."""
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=prefix):
            pass
    except OSError as err:
        raise InputError(f"{option} {path}: cannot write there ({err.strerror})") from None


@contextmanager
def written_whole(path: Path) -> Iterator[Path]:
    """A temporary path beside `path` to write to; renamed to `path` when the block ends
    without an error or an interrupt (one TVM swallowed on the way), else removed."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.partial{path.suffix}")
    try:
        yield tmp
        if stop.requested():  # interrupted while writing: the output is not whole
            raise KeyboardInterrupt
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def strict_json(data: Any) -> Any:
    """`data` with every NaN or infinite float as None: JSON has no such numbers, and strict
    parsers (jq, browsers) reject the NaN / Infinity Python writes by default."""
    if isinstance(data, float):
        return data if math.isfinite(data) else None
    if isinstance(data, dict):
        return {k: strict_json(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [strict_json(v) for v in data]
    return data
