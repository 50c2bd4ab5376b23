"""User-facing errors: each one becomes a single clear line on stderr and a non-zero exit."""

import errno


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


NO_SPACE = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}  # a write failed for want of space


def no_space(err: OSError) -> str:
    """The one line for a write that failed for want of space (`NO_SPACE`)."""
    where = f" writing {err.filename}" if err.filename else ""
    return (
        f"{err.strerror or err}{where}: what was written before is kept; free space (or raise "
        "the limit) and run the same command again"
    )
