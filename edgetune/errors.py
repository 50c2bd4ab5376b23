"""User-facing errors: each one becomes a single clear line on stderr and a non-zero exit."""

import errno
import os
import sys


class EdgetuneError(Exception):
    """An error caused by the user's input or environment, reported without a traceback."""

    exit_code = 2


class ModelError(EdgetuneError):
    """The model file is missing, damaged, or uses something edgetune cannot compile."""


class BoardError(EdgetuneError):
    """A board or toolchain definition is unknown, invalid, or the board cannot be reached."""


class BoardLost(BoardError):
    """A farm board stopped answering while candidates were measured on it: tuning stops (the
    batches measured before are kept) rather than failing every candidate left."""


class RecordsError(EdgetuneError):
    """A records folder belongs to another model/board or is damaged."""


class InputError(EdgetuneError):
    """An input tensor file does not match the model."""


class MissingPackage(EdgetuneError):
    """An optional Python package the command needs (an extra: LiteRT, pyopencl) is not
    installed: the environment's problem, not the model's (`ci` counts it as an error, exit 2)."""


def first_line(message: object, default: str = "", chars: int | None = None) -> str:
    """The first line of an error message (`default` if it has none), at most `chars` long."""
    return (str(message).strip().splitlines() or [default])[0][:chars]


def last_line(message: object, default: str = "", chars: int | None = None) -> str:
    """The last line of an error message (a traceback ends with its cause; `default` if it has
    none), at most `chars` long."""
    return (str(message).strip().splitlines() or [default])[-1][:chars]


def with_causes(err: BaseException) -> BaseException:
    """`err` with every exception it was raised from shown (`--verbose`): edgetune raises its
    one-line errors `from None`, which hides TVM's own traceback."""
    link: BaseException | None = err
    while link is not None:
        link.__suppress_context__ = False
        link = link.__cause__ or link.__context__
    return err


NO_SPACE = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}  # a write failed for want of space


class NoSpace(EdgetuneError):
    """A write failed for want of space (a full disk, a quota, a file size limit)."""

    exit_code = 1


def user_error(err: BaseException) -> EdgetuneError | None:
    """`err` as the one line a user gets: an EdgetuneError as it is, a write that failed for
    want of space (`NO_SPACE`) as NoSpace; None for anything else (a bug: a traceback)."""
    if isinstance(err, EdgetuneError):
        return err
    if isinstance(err, OSError) and err.errno in NO_SPACE:
        where = f" writing {err.filename}" if err.filename else ""
        return NoSpace(
            f"{err.strerror or err}{where}: what was written before is kept; free space (or "
            "raise the limit) and run the same command again"
        )
    return None


def check_decodable(argv: list) -> None:
    """InputError for the first argument holding bytes the locale could not decode (surrogate
    escapes: an ASCII locale with Python's UTF-8 mode off, a non-ASCII path): TVM would choke
    on it far from the cause."""
    for arg in map(str, argv):
        if any("\udc80" <= ch <= "\udcff" for ch in arg):
            shown = os.fsencode(arg).decode("utf-8", "replace")
            raise InputError(
                f"'{shown}' is not text in this locale's encoding "
                f"({sys.getfilesystemencoding()}): TVM takes UTF-8 paths; run in a UTF-8 locale "
                "(LANG=C.UTF-8) or with PYTHONUTF8=1"
            )
