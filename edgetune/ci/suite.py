"""A CI suite file (TOML in the user's repository): which models to check on which boards,
with which records, tolerances and latency threshold. Every key is checked before any work, so
a mistake is one line naming the file, the key, what was expected and what was found."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..board import Board, load_board
from ..board.schema import INT, NUMBER, TEXT, TEXTS, check_table, read_toml
from ..errors import InputError, ModelError
from ..frontend.tflite_import import find_model

SETTINGS: dict[str, Any] = {  # allowed in [defaults] and in every [[check]]
    "boards": TEXTS,
    "tune_trials": INT,
    "atol": NUMBER,
    "max_lsb": INT,
    "threshold_pct": NUMBER,
    "rounds": INT,
    "repeat": INT,
    "steps": INT,
}
CHECK: dict[str, Any] = {
    "name": TEXT,
    "model": TEXT,
    "records": {"*": None},  # board name -> folder
    "inputs": TEXTS,
    **SETTINGS,
}
SUITE: dict[str, Any] = {"name": TEXT, "baseline": TEXT, "defaults": SETTINGS, "check": (list,)}
DEFAULTS: dict[str, Any] = {
    "tune_trials": 0,
    "atol": 1e-4,
    "max_lsb": 1,
    "threshold_pct": 5.0,
    "rounds": 5,
    "repeat": 20,
    "steps": 1,
}


@dataclass(frozen=True)
class Check:
    """One model checked on some boards."""

    name: str
    model: str  # a .tflite path (resolved against the suite's folder) or a shipped model name
    boards: list[str]  # names, or .toml paths (resolved against the suite's folder)
    records: dict[str, Path] = field(default_factory=dict)  # board entry -> records folder
    inputs: list[Path] = field(default_factory=list)  # .npy per model input, [steps, ...] or one
    # array for every step (none: random)
    tune_trials: int = 0  # budget for tasks that have no record yet (0: no tuning)
    atol: float = 1e-4  # float outputs: max abs difference to LiteRT
    max_lsb: int = 1  # quantized outputs: max difference to LiteRT, in LSB
    threshold_pct: float = 5.0  # latency regression threshold over the baseline
    rounds: int = 5  # timing rounds (each `repeat` runs): the median of their medians counts
    repeat: int = 20
    steps: int = 1  # invocations in sequence, each compared (a stateful model carries states)


@dataclass(frozen=True)
class Suite:
    """A parsed suite file."""

    path: Path
    name: str
    baseline: Path
    checks: list[Check]

    def selected(self, only: list[str] | None) -> list[Check]:
        """The checks named in `only` (all without it); InputError for a name not in the suite
        (before any work: not even the output folder is made)."""
        if only and (unknown := set(only) - {c.name for c in self.checks}):
            raise InputError(f"no check named {', '.join(sorted(unknown))} in {self.path}")
        return [c for c in self.checks if not only or c.name in only]

    def boards(self) -> dict[str, Board]:
        """Every board the suite names, loaded (an unknown board fails here, before any work)."""
        names = dict.fromkeys(b for c in self.checks for b in c.boards)
        return {n: load_board(n) for n in names}


def load_suite(path: str | Path) -> Suite:
    """Read and check a suite file; InputError naming the first bad key."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"suite file not found: {path}")
    data = read_toml(path, "suite", InputError)
    where = f"suite file {path}"
    check_table(data, SUITE, ("check",), where, error=InputError)
    defaults = {**DEFAULTS, **data.get("defaults", {})}
    checks = [_check(path, i, item, defaults) for i, item in enumerate(data["check"])]
    names = [c.name for c in checks]
    if dup := sorted({n for n in names if names.count(n) > 1}):
        raise InputError(f"{where}: check names must be unique, repeated: {', '.join(dup)}")
    baseline = path.parent / data.get("baseline", f"{path.stem}.baseline.json")
    if baseline.is_dir():
        raise InputError(f"{where}: baseline {baseline} is a folder: name a .json file to keep")
    return Suite(path, data.get("name", path.stem), baseline, checks)


def _board_entry(path: Path, entry: str) -> str:
    """A board as a suite names it: a name, or a .toml path relative to the suite file."""
    return str(path.parent / entry) if entry.endswith(".toml") else entry


def _model(path: Path, model: str, where: str) -> str:
    """The check's model: a file relative to the suite (kept as a path) or a shipped name."""
    if (path.parent / model).is_file():
        return str(path.parent / model)
    if model.endswith(".tflite") or "/" in model:
        raise InputError(f"{where}: file not found: {path.parent / model}")
    try:
        find_model(model)  # a shipped model's name (ModelError names the close ones)
    except ModelError as err:
        raise InputError(f"{where}: {err}") from None
    return model


def _name(name: str, where: str) -> str:
    """A check's name, which names its files in --out (`NAME-BOARD.so`) and its JUnit case."""
    if not name.strip() or "/" in name or "\\" in name or name.startswith("."):
        raise InputError(
            f"{where}: {name!r} cannot name a check: its files are written as NAME-BOARD.so "
            "in --out (no '/', '\\', leading '.', or empty name)"
        )
    return name


def _check(path: Path, index: int, item: Any, defaults: dict[str, Any]) -> Check:
    where = f"suite file {path}"
    prefix = f"check[{index}]."
    if not isinstance(item, dict):
        raise InputError(f"{where}: 'check' must be [[check]] tables, got {item!r}")
    check_table(item, CHECK, ("model",), where, prefix, InputError)
    values = {**defaults, **item}
    boards = values.get("boards") or []
    if not boards:
        raise InputError(f"{where}: {prefix}boards (or defaults.boards) must name a board")
    if twice := sorted({b for b in boards if boards.count(b) > 1}):
        raise InputError(f"{where}: {prefix}boards names {', '.join(twice)} more than once")
    records = values.get("records", {})
    for board, folder in records.items():
        if board not in boards:
            raise InputError(
                f"{where}: {prefix}records.{board}: board not in {prefix}boards (records are "
                f"keyed by the board as {prefix}boards writes it: {', '.join(boards)})"
            )
        if not isinstance(folder, str):
            raise InputError(f"{where}: {prefix}records.{board} must be a folder path (string)")
    for key in ("rounds", "repeat", "steps"):
        if values[key] < 1:
            raise InputError(f"{where}: {prefix}{key} must be at least 1, got {values[key]}")
    for key in ("tune_trials", "atol", "max_lsb", "threshold_pct"):
        if not math.isfinite(values[key]) or values[key] < 0:
            raise InputError(
                f"{where}: {prefix}{key} must be a finite number, not negative, got {values[key]}"
            )
    if values["tune_trials"] and (missing := set(boards) - set(records)):
        raise InputError(f"{where}: {prefix}tune_trials needs a records folder to tune into for "
                         f"board(s) {', '.join(sorted(missing))} ({prefix}records)")  # fmt: skip
    model = _model(path, values["model"], f"{where}: {prefix}model")
    for name in values.get("inputs", []):
        if not (path.parent / name).is_file():
            raise InputError(f"{where}: {prefix}inputs: file not found: {path.parent / name}")
    return Check(
        name=_name(values.get("name", Path(model).stem), f"{where}: {prefix}name"),
        model=model,
        boards=[_board_entry(path, b) for b in boards],
        records={_board_entry(path, b): path.parent / f for b, f in records.items()},
        inputs=[path.parent / p for p in values.get("inputs", [])],
        **{k: values[k] for k in DEFAULTS},
    )
