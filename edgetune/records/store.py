"""A records folder: MetaSchedule's JSONDatabase plus a manifest naming the model and board.

The tuning database holds every measured candidate (the search reads and appends to it);
readers (`build`, `profile`, the records' estimates) see `database_of(store)`: each task's final
choice (`final.py`) where the tune made one, else its best tuning record.

MetaSchedule appends each measured candidate to `database_tuning_record.json` as soon as its batch
is measured, so an interrupted run keeps everything it measured. A partially written last line
(a kill during the write) is moved aside to `*.damaged` when a writer opens the folder, never
silently dropped; readers (`build`, `report`, ...) never write: they read around it.
"""

from __future__ import annotations

import json
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import RecordsError, first_line
from ..tasks import MODULE_EQUALITY
from .final import append_choice, final_database, read_choices
from .layout import FAILED_RUN_SECS, FINAL_CHOICES, MANIFEST, TUNING_RECORDS, WORKLOADS
from .lock import LOCK, is_locked_by_other, lock_for_writing
from .manifest import REUSED, check_existing, read_manifest, write_manifest

if TYPE_CHECKING:
    from ..board import Board
    from ..frontend import ModelInfo

RECORD_FILES = (WORKLOADS, TUNING_RECORDS, FINAL_CHOICES)  # appended line by line


@dataclass(frozen=True)
class RecordSummary:
    """Counts of what a records folder holds."""

    records: int
    valid: int
    failed: int
    workloads: int
    reused: int = 0  # records copied from the library (not measured for this folder)

    @property
    def measured(self) -> int:
        return self.records - self.reused


class RecordStore:
    """A records folder for one (model, board) pair."""

    def __init__(self, path: str | Path, model: ModelInfo, board: Board, create: bool = True):
        self.path = Path(path)
        self.model = model
        self.board = board
        self._db: Any = None
        self._chosen: Any = None
        self._source = self.path  # where the database is read from
        self._copy: tempfile.TemporaryDirectory | None = None
        self._open(create)

    def _open(self, create: bool) -> None:
        data = check_existing(self.path, self.model, self.board)
        if data is None:
            if self.path.is_dir() and any(p.name != LOCK for p in self.path.iterdir()):
                advice = "use a new or empty folder" if create else "name the folder `tune` wrote"
                raise RecordsError(
                    f"{self.path} is not an edgetune records folder (no {MANIFEST}) and is not "
                    f"empty: {advice}"
                )
            if not create:
                raise RecordsError(f"no records in {self.path} (run `edgetune tune` first)")
            _make_folder(self.path)
        self._writer = create
        if create:  # a writer: one per folder, and it alone repairs
            lock_for_writing(self.path)
            if data is None:
                write_manifest(self.path, self.model, self.board)
            for name in RECORD_FILES:
                repair_tail(self.path / name)
        elif not is_locked_by_other(self.path):  # else a tune's half-written line, not damage
            self._source, self._copy = read_around_damage(self.path)
        check_workloads(self._source, "records folder", "--records folder", self.path)

    def database(self):
        """MetaSchedule JSONDatabase over this folder (anchor-block module equality)."""
        if self._db is None:
            self._db = open_json_database(
                self._source, "records folder", "--records folder", repair=self._writer
            )
        return self._db

    def chosen_database(self):
        """What builds apply: each task's final choice, else its best tuning record (the first
        database with a record for the workload wins)."""
        if self._chosen is None:
            tuning = self.database()  # first: it registers the tensor intrinsics traces name
            final = final_database(self._source, self.final_choices())
            self._chosen = tuning if final is None else union_of(final, tuning)
        return self._chosen

    def final_choices(self) -> dict[str, dict[str, Any]]:
        """Workload hash -> its latest final choice (`final.read_choices`)."""
        return read_choices(self._source)

    def add_choice(self, entry: dict[str, Any]) -> None:
        """Append a task's final choice (writers only)."""
        append_choice(self.path, entry)
        self._chosen = None

    def summary(self) -> RecordSummary:
        """Counts read straight from the files (cheap; no TVM objects)."""
        return summarize_folder(self.path)

    def best_latency_s(self, mod: Any) -> float | None:
        """Mean latency (seconds) of the record builds apply to a task's module (its final
        choice, else its best tuning record), None if never measured."""
        return best_latency_in(self.chosen_database(), mod)


def _make_folder(path: Path) -> None:
    """Create a records folder; a symlink to a folder not made yet (a link to a bigger
    disk) makes that folder. RecordsError naming a file, a symlink loop or the OS error."""
    if path.exists() and not path.is_dir():
        raise RecordsError(f"records folder {path} is a file, not a folder")
    try:
        target = path.resolve() if path.is_symlink() else path
    except (RuntimeError, OSError):  # Python 3.11 raises RuntimeError on a loop
        raise RecordsError(f"records folder {path} is a symlink loop") from None
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise RecordsError(f"cannot create records folder {path}: {err.strerror}") from None


def record_for(db: Any, mod: Any) -> Any:
    """The record `db` gives a task's module (its best; for a union, the first database's that
    has one), or None."""
    import tvm

    # MetaSchedule's databases look records up by module alone (the target is not compared);
    # this query is the one its union databases answer
    return db.query_tuning_record(mod, tvm.target.Target({"kind": "c"}), "main")


def with_workload(record: Any, work: Any) -> Any:
    """The same measurement (trace, run times, target, arguments) as a record of `work`, a
    workload of another database."""
    from ..tvm_api import ms

    return ms.database.TuningRecord(
        record.trace, work, record.run_secs, record.target, record.args_info
    )


def best_latency_in(db: Any, mod: Any) -> float | None:
    """Mean latency (seconds) of the record `db` gives a task's module (`record_for`), None if
    it has no valid record."""
    record = record_for(db, mod)
    if record is None or not record.run_secs:
        return None
    secs = [float(s) for s in record.run_secs]
    mean = sum(secs) / len(secs)
    return mean if mean < FAILED_RUN_SECS else None


def trace_applies(record: Any, mod: Any) -> bool:
    """Whether the record's trace applies to the task module `mod` as a whole: databases match
    tasks on their anchor block, so a trace tuned around `conv + bias + residual add` is found for
    a plain `conv + bias`, and applying it there fails."""
    from ..tvm_api import s_tir

    try:
        record.trace.apply_to_schedule(s_tir.Schedule(mod), remove_postproc=False)
    except Exception:  # noqa: BLE001 - any schedule error: the trace belongs to another kernel
        return False
    return True


def applicable_database(db: Any, mods: list[Any]) -> Any:
    """A memory database with the record `db` gives each of `mods`, where its trace applies
    to that module as a whole; modules with none stay untuned instead of failing the build.
    It matches whole modules (constants aside), not anchor blocks, so one module's record is
    not found for another that shares its anchor."""
    from ..tvm_api import ms

    out = ms.database.MemoryDatabase(module_equality="ignore-tensor")
    for mod in mods:
        record = record_for(db, mod)
        if record is not None and trace_applies(record, mod):
            out.commit_tuning_record(with_workload(record, out.commit_workload(mod)))
    return out


def union_of(*databases: Any) -> Any:
    """MetaSchedule's ordered union: a workload's record comes from the first database that
    has one."""
    from ..tvm_api import ms

    return ms.database.OrderedUnionDatabase(*databases)


def summarize_folder(folder: Path) -> RecordSummary:
    """Counts of a records folder's files (cheap; no TVM objects)."""
    records = valid = 0
    for record in _json_lines(folder / TUNING_RECORDS):  # damaged: a writer moves it aside
        records += 1
        run_secs = record[1][1]
        if run_secs and min(float(s) for s in run_secs) < FAILED_RUN_SECS:
            valid += 1
    wl = folder / WORKLOADS
    workloads = len(wl.read_text(encoding="utf-8").split()) if wl.is_file() else 0
    reused = sum((read_manifest(folder) or {}).get(REUSED, {}).values())
    return RecordSummary(records, valid, records - valid, workloads, reused)


def database_of(store: RecordStore | None) -> Any:
    """What builds apply: the store's final choices before its tuning records
    (`RecordStore.chosen_database`), or an empty database (an untuned build)."""
    if store is not None:
        return store.chosen_database()
    from ..tvm_api import ms

    return ms.database.MemoryDatabase(module_equality=MODULE_EQUALITY)


def workload_records(folder: Path) -> Iterator[tuple[str, list[Any]]]:
    """(workload hash, record) of each tuning record of the folder whose workload line the
    folder has (damaged lines skipped; cheap: no TVM objects)."""
    hashes = [str(w[0]) for w in _json_lines(folder / WORKLOADS)]
    for index, record in _json_lines(folder / TUNING_RECORDS):
        if 0 <= index < len(hashes):
            yield hashes[index], record


def best_by_workload(folder: Path) -> dict[str, float]:
    """Workload hash -> the best mean run time (seconds) of its valid records in the folder
    (cheap; no TVM objects)."""
    best: dict[str, float] = {}
    for h, record in workload_records(folder):
        secs = [float(s) for s in record[1] or []]
        if not secs or max(secs) >= FAILED_RUN_SECS:
            continue
        mean = sum(secs) / len(secs)
        best[h] = min(mean, best.get(h, mean))
    return best


def open_json_database(folder: Path, what: str, other: str, repair: bool = False) -> Any:
    """MetaSchedule's JSONDatabase over `folder` (anchor-block module equality); RecordsError
    naming `what` the folder is and suggesting `other` if its files are damaged.

    Its tensor intrinsics are registered first (`register_intrinsics_named_in`). MetaSchedule
    refuses the whole folder when one record's trace does not replay on its workload: tasks
    match workloads by their anchor block alone, and a kernel whose other blocks were renamed
    since (BirdNET's reductions, after an earlier kernel of the model changed) commits traces
    naming its own blocks under the older workload. Such records are left out (said on
    stderr); with `repair` (a writer) they are moved to TUNING_RECORDS.stale.
    """
    register_intrinsics_named_in(folder / TUNING_RECORDS)
    try:
        return _json_database(folder)
    except Exception as err:  # noqa: BLE001 - MetaSchedule's reader, any damage
        first = first_line(err, chars=160)
        failure = RecordsError(
            f"{what} {folder}: MetaSchedule cannot read its database ({first}); the files are "
            f"damaged: use another {other}"
        )
    stale = _unreplayable_lines(folder)
    if stale is None or not stale[1]:
        raise failure
    good, bad = stale
    path = folder / TUNING_RECORDS
    note = f"{len(bad)} record(s) whose schedule no longer applies to its kernel"
    if repair:
        with open(path.with_suffix(path.suffix + ".stale"), "ab") as f:
            f.write(b"".join(ln + b"\n" for ln in bad))
        path.write_bytes(b"".join(ln + b"\n" for ln in good))
        print(f"edgetune: {path}: moved {note} to {path.name}.stale", file=sys.stderr)
        return _json_database(folder)
    print(f"edgetune: {path}: {note} ignored", file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="edgetune-records-") as copy:
        Path(copy, WORKLOADS).write_bytes((folder / WORKLOADS).read_bytes())
        Path(copy, TUNING_RECORDS).write_bytes(b"".join(ln + b"\n" for ln in good))
        return _json_database(Path(copy))  # read whole: the copy can go


def check_workloads(folder: Path, what: str, other: str, shown: Path | None = None) -> None:
    """RecordsError if records of `folder` (`shown`: the folder it was read from) name workload
    lines its WORKLOADS file does not have (the file deleted or cut short): such records cannot
    be matched to their kernels, and nothing of the folder is changed."""
    lines = _split_lines(folder / TUNING_RECORDS)[0]
    if not lines:
        return
    known = len(_split_lines(folder / WORKLOADS)[0])
    orphans = sum(1 for ln in lines if _workload_index(ln) >= known)
    if orphans:
        state = "is missing" if not (folder / WORKLOADS).is_file() else "is cut short"
        raise RecordsError(
            f"{what} {shown or folder}: {WORKLOADS} {state}: {orphans} of its {len(lines)} "
            "records name kernels it does not list, so they cannot be matched to them; nothing "
            "was changed: "
            f"restore that file, or move the folder away and use another {other}"
        )


def _workload_index(line: bytes) -> int:
    """The workload index a tuning-record line starts with (`[3, [...]]` -> 3; -1 if none)."""
    head = line.lstrip()[1:].split(b",", 1)[0]
    return int(head) if head.strip().isdigit() else -1


def _json_database(folder: Path) -> Any:
    from ..tvm_api import ms

    return ms.database.JSONDatabase(
        path_workload=str(folder / WORKLOADS),
        path_tuning_record=str(folder / TUNING_RECORDS),
        allow_missing=True,
        module_equality=MODULE_EQUALITY,
    )


def _unreplayable_lines(folder: Path) -> tuple[list[bytes], list[bytes]] | None:
    """The tuning-record lines whose trace replays on their workload, and those whose does
    not (None: the workloads themselves cannot be read)."""
    from ..tvm_api import ms

    try:
        workloads = [
            ms.database.Workload.from_json(json.loads(line))
            for line in (folder / WORKLOADS).read_bytes().splitlines()
            if line.strip()
        ]
    except Exception:  # noqa: BLE001 - damaged workloads: the caller's error stands
        return None
    good, bad = [], []
    for line in (folder / TUNING_RECORDS).read_bytes().splitlines():
        if not line.strip():
            continue
        try:
            index, record = json.loads(line)
            ms.database.TuningRecord.from_json(record, workloads[index])
            good.append(line)
        except Exception:  # noqa: BLE001 - any record MetaSchedule cannot take back
            bad.append(line)
    return good, bad


TENSORIZED = b"meta_schedule.auto_tensorize"  # in every tensorized trace


def register_intrinsics_named_in(records: Path | list[bytes]) -> None:
    """Traces of tensorized candidates name their tensor intrinsics, and MetaSchedule cannot
    read them back unless those are registered: register them if the records (a records file,
    or lines already read from one) name any (the registry import is slow, so only then)."""
    from ..quant.intrinsics import register_intrinsics

    if isinstance(records, Path):
        named = _mentions(records, TENSORIZED)
    else:
        named = any(TENSORIZED in line for line in records)
    if named:
        register_intrinsics()


def repair_tail(path: Path) -> None:
    """Move lines that are not JSON (a write cut short by a kill) aside to PATH.damaged, and
    say so on stderr."""
    good, damaged = _split_lines(path)
    if not damaged:
        return
    aside = path.with_suffix(path.suffix + ".damaged")
    try:
        with open(aside, "ab") as f:
            f.write(b"\n".join(damaged) + b"\n")
        path.write_bytes(b"".join(ln + b"\n" for ln in good))
    except OSError as err:
        raise RecordsError(
            f"{path}: {len(damaged)} damaged line(s) (a write cut short), and the folder cannot "
            f"be repaired ({err.strerror}): copy it somewhere writable"
        ) from None
    print(
        f"edgetune: {path.name}: moved {len(damaged)} damaged line(s) (a write cut short) to "
        f"{aside}",
        file=sys.stderr,
    )


def read_around_damage(folder: Path) -> tuple[Path, tempfile.TemporaryDirectory | None]:
    """Where to read `folder`'s database from without writing to it: the folder itself, or a
    temporary copy of its record files without their damaged lines (said on stderr)."""
    split = {name: _split_lines(folder / name) for name in RECORD_FILES}
    if not any(damaged for _, damaged in split.values()):
        return folder, None
    copy = tempfile.TemporaryDirectory(prefix="edgetune-records-")
    for name, (good, damaged) in split.items():
        Path(copy.name, name).write_bytes(b"".join(ln + b"\n" for ln in good))
        if damaged:
            print(
                f"edgetune: {folder / name}: {len(damaged)} damaged line(s) (a write cut short) "
                f"ignored, the folder left as it is (`edgetune tune` with it moves them to "
                f"{name}.damaged)",
                file=sys.stderr,
            )
    return Path(copy.name), copy


def _split_lines(path: Path) -> tuple[list[bytes], list[bytes]]:
    """A record file's non-empty lines: (JSON ones, damaged ones)."""
    good: list[bytes] = []
    damaged: list[bytes] = []
    if path.is_file():
        for line in path.read_bytes().splitlines():
            if line.strip():
                (damaged if _parsed(line) is NOT_JSON else good).append(line)
    return good, damaged


NOT_JSON = object()  # what `_parsed` gives for a blank or damaged line


def _json_lines(path: Path) -> Iterator[Any]:
    """The JSON value of each line of a record file (blank and damaged lines skipped)."""
    if path.is_file():
        for line in path.read_bytes().splitlines():
            if (value := _parsed(line)) is not NOT_JSON:
                yield value


def _parsed(line: bytes) -> Any:
    """The line's JSON value, or NOT_JSON for a blank or damaged line (each line parsed once)."""
    if not line.strip():
        return NOT_JSON
    try:
        return json.loads(line)
    except ValueError:
        return NOT_JSON


def _mentions(path: Path, needle: bytes, chunk: int = 1 << 20) -> bool:
    """Whether the file contains `needle` (read in chunks; False if there is no file)."""
    if not path.is_file():
        return False
    tail = b""
    with path.open("rb") as f:
        while block := f.read(chunk):
            if needle in tail + block:
                return True
            tail = block[-len(needle) :]
    return False
