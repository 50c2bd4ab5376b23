"""A CI suite file (TOML in the user's repository): which models to check on which boards,
with which records, tolerances and latency threshold. Every key is checked before any work, so
a mistake is one line naming the file, the key, what was expected and what was found."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..board import Board, load_board
from ..board.schema import INT, NUMBER, TEXT, TEXTS, check_table, read_toml
from ..errors import InputError

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
    boards: list[str]
    records: dict[str, Path] = field(default_factory=dict)  # board -> records folder
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
    baseline = data.get("baseline", f"{path.stem}.baseline.json")
    return Suite(path, data.get("name", path.stem), path.parent / baseline, checks)


def _check(path: Path, index: int, item: Any, defaults: dict[str, Any]) -> Check:
    where = f"suite file {path}"
    prefix = f"check[{index}]."
    if not isinstance(item, dict):
        raise InputError(f"{where}: 'check' must be [[check]] tables, got {item!r}")
    check_table(item, CHECK, ("model",), where, prefix, InputError)
    values = {**defaults, **item}
    if not values.get("boards"):
        raise InputError(f"{where}: {prefix}boards (or defaults.boards) must name a board")
    records = values.get("records", {})
    for board, folder in records.items():
        if board not in values["boards"]:
            raise InputError(f"{where}: {prefix}records.{board}: board not in {prefix}boards")
        if not isinstance(folder, str):
            raise InputError(f"{where}: {prefix}records.{board} must be a folder path (string)")
    for key in ("rounds", "repeat", "steps"):
        if values[key] < 1:
            raise InputError(f"{where}: {prefix}{key} must be at least 1, got {values[key]}")
    for key in ("tune_trials", "atol", "max_lsb", "threshold_pct"):
        if values[key] < 0:
            raise InputError(f"{where}: {prefix}{key} must not be negative, got {values[key]}")
    if values["tune_trials"] and (missing := set(values["boards"]) - set(records)):
        raise InputError(f"{where}: {prefix}tune_trials needs a records folder to tune into for "
                         f"board(s) {', '.join(sorted(missing))} ({prefix}records)")  # fmt: skip
    model = values["model"]
    is_path = model.endswith(".tflite") or "/" in model
    files = [("model", model)] if is_path else []
    for key, name in [*files, *(("inputs", n) for n in values.get("inputs", []))]:
        if not (path.parent / name).is_file():
            raise InputError(f"{where}: {prefix}{key}: file not found: {path.parent / name}")
    return Check(
        name=values.get("name", Path(model).stem),
        model=str(path.parent / model) if is_path else model,
        boards=list(values["boards"]),
        records={b: path.parent / f for b, f in records.items()},
        inputs=[path.parent / p for p in values.get("inputs", [])],
        **{k: values[k] for k in DEFAULTS},
    )
