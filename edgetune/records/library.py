"""The records library: every measurement of every `tune` for a board, shared by all models.

A library root (default `$EDGETUNE_LIBRARY`, else `$EDGETUNE_CACHE/library` or
`~/.cache/edgetune/library`;
`--library DIR` to share one) holds one sub-folder per key: the board's resolved target, its
toolchain, the TVM version and, for `--requantize fp32`, that requantization (tasks are matched
on their anchor block, which both requantizations share: their records must not meet). Records
of other targets, toolchains, TVM versions or requantizations never meet.
Each sub-folder holds MetaSchedule's JSONDatabase files (as a records folder does) and
`edgetune-library.json`, which says what it holds: the key, and per workload (MetaSchedule's
anchor-block structural hash) its task family, best latency, number of records and the trials
per task of the most thorough tune that measured it. Naming a sub-folder directly whose key is
not this board's is refused.

Writers take turns under the folder's lock (`lock.held`) and reopen the database each turn, so
concurrent `tune`s append whole records to a consistent file. A records folder remembers how
many of its records are already in the library (its manifest), so nothing is added twice and a
run killed before it added its records adds them next time.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import RecordsError
from ..paths import library_dir
from ..quant.float_requantization import FIXED_POINT
from ..tasks import MODULE_EQUALITY
from ..tasks.family import family_of
from .layout import FAILED_RUN_SECS, MANIFEST, TUNING_RECORDS, WORKLOADS
from .lock import held
from .manifest import LIBRARY_SYNC, REUSED, read_manifest, update_manifest
from .store import (
    best_latency_in,
    check_workloads,
    open_json_database,
    register_intrinsics_named_in,
    repair_tail,
    trace_applies,
    union_of,
    with_workload,
    workload_records,
)

if TYPE_CHECKING:
    from ..board import Board
    from ..tasks import Task
    from .store import RecordStore

LIBRARY_MANIFEST = "edgetune-library.json"
KNOWN, SIMILAR, NEW = "known", "similar", "new"


def library_key(board: Board, requantization: str = FIXED_POINT) -> dict[str, Any]:
    """What a library sub-folder is for: resolved target, toolchain, TVM version (and the int8
    requantization, when not the default, so the default's folders keep their names)."""
    import tvm

    tc = board.toolchain()
    extra = {} if requantization == FIXED_POINT else {"requantization": requantization}
    return {
        "target": str(board.target()),
        "toolchain": {
            "name": tc.name,
            "cc": tc.cc,
            "triple": tc.triple,
            "options": list(tc.options),
        },
        "tvm": tvm.__version__,
        **extra,
    }


def workload_hash(mod: Any) -> str:
    """MetaSchedule's structural hash of a task (anchor-block equality), as its database files
    write it."""
    from ..tvm_api import ms

    db = ms.database.MemoryDatabase(module_equality=MODULE_EQUALITY)
    return str(db.commit_workload(mod).as_json()[0])


def open_library(
    root: str | Path | None, board: Board, requantization: str = FIXED_POINT
) -> Library:
    """The library of `board` (and int8 `requantization`) under `root` (None: the default under
    the cache folder)."""
    root = Path(root).expanduser() if root else library_dir()
    if root.exists() and not root.is_dir():
        raise RecordsError(f"library {root} is a file, not a folder: name a folder for --library")
    key = library_key(board, requantization)
    if (root / LIBRARY_MANIFEST).is_file():  # a key folder named directly
        return Library(root, key)
    return Library(root / f"{board.name}-{_digest(key)}", key)


def _digest(key: dict[str, Any]) -> str:
    """The end of a key folder's name: what its records are of, in short."""
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:12]


@dataclass
class LibraryRecords:
    """What a tune takes from the library: best records of known tasks, top records of families."""

    best: dict[str, list[Any]]  # workload hash -> its best TuningRecords
    family: dict[str, list[list[Any]]]  # family -> per workload of it, its top TuningRecords


@dataclass
class LibraryMatch:
    """Tasks against the library (`Library.match`): status per task and the records taken."""

    status: list[str]  # per task: known, similar or new
    measured: list[int]  # per task: the library's records of this very kernel
    per_task: list[int]  # per task: trials per task of the most thorough tune that measured it
    taken: LibraryRecords


class Library:
    """One key folder of a records library (see the module docstring)."""

    def __init__(self, path: Path, key: dict[str, Any]):
        self.path = path
        self.key = key
        check_workloads(path, "library", "--library (or --no-library)")
        try:
            data = self.manifest()
        except RecordsError:
            data = self._rebuild_manifest()
        if data and data.get("key") != key:
            raise RecordsError(f"library {path} {_mismatch(data.get('key') or {}, key)}")
        if _counted(data) != len(_lines(path / TUNING_RECORDS)):
            data = self._rebuild_manifest()

    def manifest(self) -> dict[str, Any]:
        """The folder's manifest ({} for a new library)."""
        return read_manifest(self.path, LIBRARY_MANIFEST) or {}

    @property
    def workloads(self) -> dict[str, dict[str, Any]]:
        """Workload hash -> {family, best_s, records, trials_per_task (of the most thorough
        records folder that measured it: its records over its tasks)}."""
        return self.manifest().get("workloads", {})

    def classify(self, tasks: list[Task]) -> list[str]:
        """known (this very kernel measured here), similar (other shapes or epilogues of its
        family are) or new, per task."""
        return self.match(tasks, [workload_hash(t.mod) for t in tasks]).status

    def match(
        self,
        tasks: list[Task],
        hashes: list[str],
        families: Iterable[str] = (),
        per_workload: int = 1,
        known_top: int = 1,
    ) -> LibraryMatch:
        """`classify` for tasks whose workload hashes are given, and `take` for their known
        kernels and `families`, in one read of the library. A known task whose best trace does
        not apply to its whole kernel (another epilogue) is similar."""
        held_ = self.workloads
        measured = {h for h, w in held_.items() if w.get("best_s") is not None}
        fams = {held_[h]["family"] for h in measured}
        status = [
            KNOWN if h in measured else SIMILAR if t.family in fams else NEW
            for h, t in zip(hashes, tasks)
        ]
        known = {h: t.mod for h, t, s in zip(hashes, tasks, status) if s == KNOWN}
        taken = self.take(known, families, per_workload, held_, known_top)
        status = [
            SIMILAR if s == KNOWN and h not in taken.best else s for h, s in zip(hashes, status)
        ]
        known_ = [(held_[h] if s == KNOWN else {}) for h, s in zip(hashes, status)]
        return LibraryMatch(
            status,
            [w.get("records", 0) for w in known_],
            [w.get("trials_per_task", 0) for w in known_],
            taken,
        )

    def add(self, store: RecordStore) -> int:
        """Add the store's records not yet in this library; returns how many were added.

        The store's manifest remembers how many of its records this library has (by the
        library's resolved path); a record the library already holds (the same schedule of the
        same kernel, the same times: a sync cut short by a kill, the library named by another
        path) is not added again."""
        state = (read_manifest(store.path) or {}).get(LIBRARY_SYNC, {})
        synced_as = str(self.path.resolve())
        start = int(state.get(synced_as, 0))
        lines = _lines(store.path / TUNING_RECORDS)
        if len(lines) <= start:
            return 0
        workloads = _lines(store.path / WORKLOADS)
        per_task = len(lines) // max(1, len(workloads))  # the folder's tune, all runs so far
        register_intrinsics_named_in(lines[start:])  # else its int8 traces fail
        added = 0
        with self._turn() as db:
            data = self.manifest()
            index = data.setdefault("workloads", {})
            held_ = _held_records(self.path)
            seen: dict[int, tuple[Any, dict[str, Any]]] = {}
            parsed: dict[int, list[Any]] = {}  # workload lines, each read once
            for line in lines[start:]:
                wl, rec = json.loads(line)
                if wl not in parsed:
                    parsed[wl] = json.loads(workloads[wl])
                key = _record_key(str(parsed[wl][0]), rec)
                if key in held_:
                    continue
                if wl not in seen:
                    seen[wl] = self._workload(db, index, parsed[wl])
                work, entry = seen[wl]
                try:  # replays the trace on the library's kernel of this anchor
                    record = _ms().database.TuningRecord.from_json(rec, work)
                except Exception:  # noqa: BLE001 - another epilogue: the library keeps its own
                    continue
                db.commit_tuning_record(record)
                held_.add(key)
                _count(entry, record.run_secs)
                added += 1
            for line in workloads:  # the tune grew: so did its tasks' that gained no record
                entry = index.get(str(json.loads(line)[0]))
                if entry is not None:
                    entry["trials_per_task"] = max(entry.get("trials_per_task", 0), per_task)
            self._write_manifest({**data, "key": self.key})
        update_manifest(store.path, **{LIBRARY_SYNC: {**state, synced_as: len(lines)}})
        return added

    def copy_best(
        self, store: RecordStore, best: dict[str, list[Any]], mods: dict[str, Any]
    ) -> int:
        """Copy records taken from the library (workload hash -> records) into the store, as
        records of the store's task `mods[hash]`; returns how many. The store's manifest counts
        them as reused (not measured there) and already in this library."""
        db = store.database()
        data = read_manifest(store.path) or {}
        reused = dict(data.get(REUSED) or {})
        copied = 0
        for h, records in best.items():
            work = db.commit_workload(mods[h])
            for r in records:
                db.commit_tuning_record(with_workload(r, work))
            reused[h] = reused.get(h, 0) + len(records)
            copied += len(records)
        synced = {
            **data.get(LIBRARY_SYNC, {}),
            str(self.path.resolve()): len(_lines(store.path / TUNING_RECORDS)),
        }
        update_manifest(store.path, **{REUSED: reused, LIBRARY_SYNC: synced})
        return copied

    def fill(self, database: Any, tasks: list[Task]) -> Any:
        """`database`, then the library's best record for the `tasks` it has no valid record of
        (`build --library`)."""
        missing = {
            workload_hash(t.mod): t.mod for t in tasks if best_latency_in(database, t.mod) is None
        }
        extra = _ms().database.MemoryDatabase(module_equality=MODULE_EQUALITY)
        for h, records in self.take(missing, (), 1).best.items():
            work = extra.commit_workload(missing[h])
            for r in records:
                extra.commit_tuning_record(with_workload(r, work))
        return union_of(database, extra)

    def take(
        self,
        known: dict[str, Any],
        families: Iterable[str],
        per_workload: int,
        index: dict[str, dict[str, Any]] | None = None,
        known_top: int = 1,
    ) -> LibraryRecords:
        """The `known_top` best records of each `known` task (workload hash -> the task's
        module), and the `per_workload` best records of every workload of each of `families`.

        A hash names the task's anchor block (its conv or matmul); a known task's record is
        taken only if its trace applies to the task's whole kernel (a trace tuned around
        `matmul + relu` does not apply to a plain `matmul`; other constants, as in a retrained
        int8 model, are fine). `index`: the manifest's workloads, if just read."""
        families = set(families)
        index = self.workloads if index is None else index
        wanted = {h for h, w in index.items() if h in known or w["family"] in families}
        out = LibraryRecords({}, {})
        if not wanted:
            return out
        with self._turn() as db:
            for line in _lines(self.path / WORKLOADS):
                parsed = json.loads(line)
                h = str(parsed[0])
                if h not in wanted:
                    continue
                mod = _ms().database.Workload.from_json(parsed).mod
                top = db.get_top_k(db.commit_workload(mod), max(per_workload, known_top))
                top = [r for r in top if _mean(r.run_secs) is not None]
                if h in known and top and trace_applies(top[0], known[h]):
                    more = [r for r in top[1:known_top] if trace_applies(r, known[h])]
                    out.best[h] = [top[0], *more]
                if index[h]["family"] in families and top:
                    out.family.setdefault(index[h]["family"], []).append(top[:per_workload])
        return out

    def create(self) -> None:
        """The folder created (a writer checks it can before any work)."""
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise RecordsError(
                f"cannot create library {self.path}: {err.strerror}; pass --library DIR (a "
                "folder you can write) or --no-library"
            ) from None

    @contextmanager
    def _turn(self) -> Iterator[Any]:
        """This process's turn at the folder: its lock held, damaged tails repaired, the
        database (re)opened."""
        self.create()
        with held(self.path):
            for name in (WORKLOADS, TUNING_RECORDS):
                repair_tail(self.path / name)
            check_workloads(self.path, "library", "--library (or --no-library)")
            yield open_json_database(
                self.path, "library", "--library (or --no-library)", repair=True
            )

    def _rebuild_manifest(self) -> dict[str, Any]:
        """The manifest rebuilt from the folder's records when it is damaged (not JSON: a disk
        full, a hand edit), missing, or counts other records than the folder holds (records
        lost or moved aside), if the manifest or the folder's name (this key's digest) says the
        records are of this key; a damaged file is kept beside it. Trials per task are not in
        the records: kept from a readable manifest, else a known task is reused only if the
        library measured it as often as the run could."""
        manifest = self.path / LIBRARY_MANIFEST
        try:
            keyed = self.manifest().get("key") == self.key
        except RecordsError:
            keyed = False
        if not keyed and not self.path.name.endswith(f"-{_digest(self.key)}"):
            raise RecordsError(
                f"{manifest}: damaged manifest (not JSON) or none, and the folder's name does "
                "not say which target, toolchain and TVM version its records are of: move the "
                "folder away, or use another --library (or --no-library)"
            )
        with self._turn():
            try:  # another process may have mended it meanwhile
                old = read_manifest(self.path, LIBRARY_MANIFEST)  # None: missing
            except RecordsError:
                old = None
            lines = _lines(self.path / TUNING_RECORDS)
            if old is not None and _counted(old) == len(lines):
                return old
            index: dict[str, dict[str, Any]] = {}
            for line in _lines(self.path / WORKLOADS):
                _indexed(index, json.loads(line))
            for h, rec in workload_records(self.path):  # all of them: `check_workloads`
                _count(index[h], rec[1])
            for h, entry in (old or {}).get("workloads", {}).items():
                if h in index and "trials_per_task" in entry:
                    index[h]["trials_per_task"] = entry["trials_per_task"]
            if old is None and manifest.is_file():
                aside = manifest.with_suffix(".json.damaged")
                shutil.copyfile(manifest, aside)  # then replaced whole: a kill leaves either one
                why = f"damaged (not JSON), kept as {aside.name}"
            elif old is None:
                why = "missing"
            else:
                why = f"counted {_counted(old)} records, the folder holds {len(lines)}"
            data = {"key": self.key, "workloads": index}
            self._write_manifest(data)
        print(
            f"edgetune: {manifest}: {why}; rebuilt from the folder's {len(lines)} records",
            file=sys.stderr,
        )
        return data

    def _workload(self, db: Any, index: dict[str, Any], parsed: list[Any]):
        """The library's Workload for a records folder's workload line, and its manifest entry."""
        mod, entry = _indexed(index, parsed)
        return db.commit_workload(mod), entry

    def _write_manifest(self, data: dict[str, Any]) -> None:
        tmp = self.path / (LIBRARY_MANIFEST + ".tmp")
        try:
            tmp.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        except OSError:  # a full disk: the manifest is rebuilt from the records next time
            tmp.unlink(missing_ok=True)
            raise
        os.replace(tmp, self.path / LIBRARY_MANIFEST)


@dataclass
class LibraryFolder:
    """What one key folder of a library holds, read without taking its lock (`edgetune
    library`): its manifest is replaced whole, never written in place."""

    path: Path
    key: dict[str, Any]
    workloads: dict[str, dict[str, Any]]  # the manifest's, by workload hash
    size_bytes: int

    @property
    def records(self) -> int:
        return _counted({"workloads": self.workloads})

    def families(self) -> dict[str, dict[str, int]]:
        """Family -> workloads, records, and the most trials per task any tune gave them."""
        out: dict[str, dict[str, int]] = {}
        for w in self.workloads.values():
            fam = out.setdefault(w["family"], {"workloads": 0, "records": 0, "trials_per_task": 0})
            fam["workloads"] += 1
            fam["records"] += int(w.get("records", 0))
            fam["trials_per_task"] = max(fam["trials_per_task"], int(w.get("trials_per_task", 0)))
        return dict(sorted(out.items(), key=lambda kv: -kv[1]["records"]))

    def summary(self) -> dict[str, Any]:
        """The folder in one row: name, key in short, counts, size (the whole key as `key`)."""
        key, size = self.key, self.size_bytes
        target = _target_text(key.get("target", ""))
        if "requantization" in key:
            target += f" (int8 requantize {key['requantization']})"
        return {
            "folder": self.path.name,
            "path": str(self.path),
            "target": target,
            "tvm": key.get("tvm", ""),
            "toolchain": (key.get("toolchain") or {}).get("name", ""),
            "workloads": len(self.workloads),
            "families": len(self.families()),
            "records": self.records,
            "size": f"{size / 1024**2:.1f} MB" if size >= 1024**2 else f"{size / 1024:.1f} KB",
            "size_bytes": size,
            "key": key,
        }


def library_folders(root: Path) -> tuple[list[LibraryFolder], list[str]]:
    """The key folders under a library root (a key folder itself: that one), and one message
    per folder whose manifest is damaged (the others are still listed)."""

    def is_key_folder(p: Path) -> bool:
        return (p / LIBRARY_MANIFEST).is_file() or (p / TUNING_RECORDS).is_file()

    if (root / MANIFEST).is_file():  # `tune --records` writes it; a library has none
        raise RecordsError(
            f"{root} is a records folder (of `edgetune tune --records`), not a records library: "
            "`edgetune report` reads it"
        )
    if is_key_folder(root):
        candidates = [root]
    elif root.is_dir():
        candidates = sorted(p for p in root.iterdir() if p.is_dir() and is_key_folder(p))
    else:
        candidates = []
    folders, broken = [], []
    mended = (
        "; the next `tune`, `tasks` or `build --library` of its board rebuilds it from the "
        "folder's records if the folder keeps the name edgetune gave it (board-digest of its key)"
    )
    for path in candidates:
        try:
            data = read_manifest(path, LIBRARY_MANIFEST)
        except RecordsError:
            broken.append(f"{path / LIBRARY_MANIFEST}: damaged manifest (not JSON){mended}")
            continue
        held_ = len(_lines(path / TUNING_RECORDS))
        if data is None:
            broken.append(f"{path}: {held_} records, no manifest ({LIBRARY_MANIFEST}){mended}")
            continue
        if _counted(data) != held_:
            broken.append(
                f"{path / LIBRARY_MANIFEST}: counts {_counted(data)} records, the folder holds "
                f"{held_}{mended}"
            )
        size = sum(f.stat().st_size for f in path.iterdir() if f.is_file())
        folders.append(LibraryFolder(path, data.get("key", {}), data.get("workloads", {}), size))
    return folders, broken


def _indexed(index: dict[str, Any], parsed: list[Any]) -> tuple[Any, dict[str, Any]]:
    """A workload line's module, and its entry in the manifest `index` (a new entry, no record
    counted yet, if the workload is not in it)."""
    mod = _ms().database.Workload.from_json(parsed).mod
    h = str(parsed[0])
    if h not in index:
        index[h] = {"family": family_of(mod), "best_s": None, "records": 0}
    return mod, index[h]


def _counted(manifest: dict[str, Any]) -> int:
    """Records a library manifest counts."""
    return sum(int(w.get("records", 0)) for w in manifest.get("workloads", {}).values())


def _record_key(workload: str, record: list[Any]) -> str:
    """What makes a record the same measurement: its kernel (workload hash), schedule (trace)
    and run times (`record`: a tuning-record line's record, [trace, run_secs, ...])."""
    return json.dumps([workload, record[0], record[1]], sort_keys=True)


def _held_records(folder: Path) -> set[str]:
    """`_record_key` of every record the library folder holds."""
    return {_record_key(h, rec) for h, rec in workload_records(folder)}


def _count(entry: dict[str, Any], run_secs: Any) -> None:
    """Count one record of the entry's workload: records, and the best mean latency."""
    entry["records"] += 1
    secs = _mean(run_secs)
    if secs is not None and (entry["best_s"] is None or secs < entry["best_s"]):
        entry["best_s"] = secs


def _target_text(target: str) -> str:
    """`{"kind":"llvm","mcpu":"znver4","num-cores":2,...}` -> `llvm mcpu=znver4 num-cores=2`."""
    try:
        fields = json.loads(target)
    except (TypeError, ValueError):
        return str(target)
    if not isinstance(fields, dict):
        return str(target)
    rest = [f"{k}={v}" for k, v in sorted(fields.items()) if k not in ("kind", "tag", "keys")]
    return " ".join([str(fields.get("kind", "?")), *rest])


def _mismatch(held_key: dict[str, Any], key: dict[str, Any]) -> str:
    """Why a library folder cannot be used with this board, as the end of a sentence."""
    for field, what in (("tvm", "TVM"), ("target", "target"), ("toolchain", "toolchain")):
        if held_key.get(field) != key[field]:
            return (
                f"holds records of {what} {json.dumps(held_key.get(field))}, not "
                f"{json.dumps(key[field])}: records never transfer between TVM versions, targets "
                "or toolchains; use another --library, or --no-library"
            )
    return "has an unknown key"


def _lines(path: Path) -> list[bytes]:
    return [ln for ln in path.read_bytes().splitlines() if ln.strip()] if path.is_file() else []


def _mean(run_secs: Any) -> float | None:
    """Mean of a record's run times, None if it failed."""
    secs = [float(s) for s in run_secs or []]
    mean = sum(secs) / len(secs) if secs else None
    return mean if mean is not None and mean < FAILED_RUN_SECS else None


def _ms():
    from ..tvm_api import ms

    return ms


def reused_in(store: RecordStore) -> set[str]:
    """Workload hashes whose records a store took from a library instead of measuring them."""
    return set((read_manifest(store.path) or {}).get(REUSED, {}))
