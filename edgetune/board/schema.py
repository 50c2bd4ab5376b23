"""What a board or toolchain file may hold: every key checked for its type before use, so a
mistake is one line naming the file, the key, what was expected and what was found."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from ..errors import BoardError

CONNECTION_KINDS = ("local", "rpc", "ssh", "opencl")
TARGET_KINDS = ("llvm", "opencl", "cuda", "vulkan", "metal")

INT = (int,)
NUMBER = (int, float)
TEXT = (str,)
TEXTS = (list,)
TABLE = (dict,)

BOARD: dict[str, Any] = {
    "name": TEXT,
    "description": TEXT,
    "rule_set": TEXT,
    "toolchain": TEXT,
    "rules_module": TEXT,
    "emulated": (bool,),
    "target": {
        "kind": TEXT,
        "device": TEXT,
        "mtriple": TEXT,
        "mcpu": TEXT,
        "mattr": TEXTS,
        "host": TABLE,
        "*": None,
    },  # fmt: skip
    "hardware": {
        "cores": INT + ("auto",),
        "vector_bits": INT,
        "max_threads_per_block": INT,
        "max_shared_memory_per_block": INT,
    },  # fmt: skip
    "connection": {
        "kind": CONNECTION_KINDS,
        "tracker": TEXT,
        "key": TEXT,
        "platform": TEXT,
        "ssh": TABLE,
        "server": TABLE,
        "serial": TABLE,
        "power": TABLE,  # farm/resources.py
    },
    "measure": {
        "build_timeout_s": NUMBER,
        "run_timeout_s": NUMBER,
        "number": INT,
        "repeat": INT,
        "min_repeat_ms": INT,
        "build_workers": INT,
        "timing_note": TEXT,
        "cache_flush": (bool,),
    },  # fmt: skip
}
REQUIRED_BOARD = ("target",)
# least values of the board's counts ("cores" may also be "auto"), and its seconds (> 0)
BOARD_LEAST = {
    ("hardware", "cores"): 1, ("hardware", "vector_bits"): 1, ("measure", "number"): 1,
    ("measure", "repeat"): 1, ("measure", "min_repeat_ms"): 0, ("measure", "build_workers"): 1,
}  # fmt: skip
BOARD_SECONDS = (("measure", "build_timeout_s"), ("measure", "run_timeout_s"))
TOOLCHAIN: dict[str, Any] = {
    "name": TEXT, "cc": TEXT, "triple": TEXT, "options": TEXTS, "install_hint": TEXT,
}  # fmt: skip
REQUIRED_TOOLCHAIN = ("cc",)


def read_toml(path: Path, what: str, error: type[Exception] = BoardError) -> dict[str, Any]:
    """A TOML file's contents; `error` naming the file if it is unreadable or not TOML."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as err:
        raise error(f"{what} file {path}: invalid TOML: {err}") from None
    except (OSError, UnicodeDecodeError) as err:
        raise error(f"{what} file {path}: cannot read it: {err}") from None


def check_board(data: dict[str, Any], where: str) -> None:
    check_table(data, BOARD, REQUIRED_BOARD, where, "")
    for (table, key), least in BOARD_LEAST.items():
        value = data.get(table, {}).get(key)
        if isinstance(value, int) and value < least:
            raise BoardError(f"{where}: '{table}.{key}' must be {least} or more, got {value}")
    for table, key in BOARD_SECONDS:
        value = data.get(table, {}).get(key)
        if isinstance(value, (int, float)) and not value > 0:
            raise BoardError(f"{where}: '{table}.{key}' must be more than 0 seconds, got {value}")
    kind = data["target"].get("kind")
    if kind not in TARGET_KINDS:
        raise BoardError(f"{where}: target.kind must be one of {', '.join(TARGET_KINDS)}, "
                         f"got {_shown(kind)}")  # fmt: skip


def check_toolchain(data: dict[str, Any], where: str) -> None:
    check_table(data, TOOLCHAIN, REQUIRED_TOOLCHAIN, where, "")


def check_table(
    data: Any,
    schema: dict[str, Any],
    required: tuple[str, ...],
    where: str,
    prefix: str = "",
    error: type[Exception] = BoardError,
) -> None:
    """Every key of `data` known to `schema` and of its type; `error` naming the first that
    is not (other TOML files, e.g. `edgetune ci` suites, are checked with their own error)."""
    for key in required:
        if key not in data:
            raise error(f"{where}: missing required key '{prefix}{key}'")
    for key, value in data.items():
        if key not in schema and "*" not in schema:
            known = ", ".join(k for k in schema if k != "*")
            raise error(f"{where}: unknown key '{prefix}{key}' (known: {known})")
        expected = schema.get(key)
        if expected is None:
            continue  # free-form (target options, farm tables)
        if isinstance(expected, dict):
            if not isinstance(value, dict):
                raise error(
                    f"{where}: '{prefix}{key}' must be a table ([{prefix}{key}] or "
                    f"{key} = {{...}}), got {_shown(value)}"
                )
            check_table(value, expected, (), where, f"{prefix}{key}.", error)
        elif not _matches(value, expected):
            raise error(
                f"{where}: '{prefix}{key}' must be {_describe(expected)}, got {_shown(value)}"
            )


def _matches(value: Any, expected: tuple) -> bool:
    for e in expected:
        if isinstance(e, type):
            if isinstance(value, e) and not (e is int and isinstance(value, bool)):
                return True
        elif value == e:
            return True
    return False


def _describe(expected: tuple) -> str:
    names = {int: "an integer", float: "a number", str: "a string", list: "a list",
             dict: "a table"}  # fmt: skip
    parts = [names.get(e, repr(e)) if isinstance(e, type) else f'"{e}"' for e in expected]
    if expected == NUMBER:
        return "a number"
    return " or ".join(parts)


def _shown(value: Any) -> str:
    return f"{value!r} ({type(value).__name__})"
