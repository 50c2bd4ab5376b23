"""A records folder: MetaSchedule's JSONDatabase plus a manifest naming the model and board.

MetaSchedule appends each measured candidate to `database_tuning_record.json` as soon as its batch
is measured, so an interrupted run keeps everything it measured. A partially written last line
(a kill during the write) is moved aside to `*.damaged` on open, never silently dropped.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import __version__
from ..errors import RecordsError

if TYPE_CHECKING:
    from ..board import Board
    from ..frontend import ModelInfo

MANIFEST = "edgetune-records.json"
WORKLOADS = "database_workload.json"
TUNING_RECORDS = "database_tuning_record.json"
FAILED_RUN_SECS = 1e9  # MetaSchedule stores 1e10 s for candidates that failed to build or run


@dataclass(frozen=True)
class RecordSummary:
    """Counts of what a records folder holds."""

    records: int
    valid: int
    failed: int
    workloads: int


class RecordStore:
    """A records folder for one (model, board) pair."""

    def __init__(self, path: str | Path, model: ModelInfo, board: Board, create: bool = True):
        self.path = Path(path)
        self.model = model
        self.board = board
        self._db: Any = None
        self._open(create)

    def _open(self, create: bool) -> None:
        manifest = self.path / MANIFEST
        if manifest.is_file():
            try:
                data = json.loads(manifest.read_text())
            except json.JSONDecodeError:
                raise RecordsError(f"{manifest}: damaged manifest (not JSON)") from None
            if data.get("model_sha256") != self.model.sha256:
                raise RecordsError(
                    f"records folder {self.path} belongs to model '{data.get('model')}' "
                    f"(sha256 {str(data.get('model_sha256'))[:12]}), not '{self.model.name}' "
                    f"(sha256 {self.model.sha256[:12]}): use another --records folder"
                )
            if data.get("board") != self.board.name:
                raise RecordsError(
                    f"records folder {self.path} belongs to board '{data.get('board')}', "
                    f"not '{self.board.name}': use another --records folder"
                )
        elif self.path.is_dir() and any(self.path.iterdir()):
            raise RecordsError(
                f"{self.path} is not an edgetune records folder (no {MANIFEST}) and is not "
                "empty: use a new or empty folder"
            )
        elif not create:
            raise RecordsError(f"no records in {self.path} (run `edgetune tune` first)")
        else:
            self.path.mkdir(parents=True, exist_ok=True)
            manifest.write_text(
                json.dumps(
                    {
                        "model": self.model.name,
                        "model_sha256": self.model.sha256,
                        "board": self.board.name,
                        "target": self.board.target_spec,
                        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                        "edgetune_version": __version__,
                    },
                    indent=2,
                )
                + "\n"
            )
        for name in (WORKLOADS, TUNING_RECORDS):
            _repair_tail(self.path / name)

    def database(self):
        """MetaSchedule JSONDatabase over this folder (anchor-block module equality).

        Traces of tensorized candidates name their tensor intrinsics, and MetaSchedule cannot
        read them back unless those are registered: records that have any get them registered
        first (the registry import is slow, so only then).
        """
        if self._db is None:
            from tvm.s_tir.meta_schedule.database import JSONDatabase

            from ..rules.tensorize import register_intrinsics
            from ..tasks import MODULE_EQUALITY

            if _mentions(self.path / TUNING_RECORDS, b"meta_schedule.auto_tensorize"):
                register_intrinsics()
            self._db = JSONDatabase(
                path_workload=str(self.path / WORKLOADS),
                path_tuning_record=str(self.path / TUNING_RECORDS),
                allow_missing=True,
                module_equality=MODULE_EQUALITY,
            )
        return self._db

    def summary(self) -> RecordSummary:
        """Counts read straight from the files (cheap; no TVM objects)."""
        records = valid = 0
        path = self.path / TUNING_RECORDS
        if path.is_file():
            for line in path.read_text().splitlines():
                if not line.strip():
                    continue
                records += 1
                run_secs = json.loads(line)[1][1]
                if run_secs and min(float(s) for s in run_secs) < FAILED_RUN_SECS:
                    valid += 1
        wl = self.path / WORKLOADS
        workloads = len(wl.read_text().split()) if wl.is_file() else 0
        return RecordSummary(records, valid, records - valid, workloads)

    def best_latency_s(self, mod: Any) -> float | None:
        """Best measured mean latency (seconds) of a task's module, None if never measured."""
        db = self.database()
        if not db.has_workload(mod):
            return None
        recs = db.get_top_k(db.commit_workload(mod), 1)
        if not recs or not recs[0].run_secs:
            return None
        secs = [float(s) for s in recs[0].run_secs]
        mean = sum(secs) / len(secs)
        return mean if mean < FAILED_RUN_SECS else None


def _repair_tail(path: Path) -> None:
    """Move lines that are not JSON (a write cut short by a kill) aside to PATH.damaged."""
    if not path.is_file():
        return
    lines = [ln for ln in path.read_bytes().splitlines() if ln.strip()]
    damaged = [ln for ln in lines if not _is_json(ln)]
    if not damaged:
        return
    with open(path.with_suffix(path.suffix + ".damaged"), "ab") as f:
        f.write(b"\n".join(damaged) + b"\n")
    path.write_bytes(b"".join(ln + b"\n" for ln in lines if _is_json(ln)))


def _is_json(line: bytes) -> bool:
    try:
        json.loads(line)
        return True
    except ValueError:
        return False


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
