"""A tune's start from the records library: known tasks reused, similar ones given a head start.

- known (the library measured this very task): its best record is copied into the records
  folder, so `build` uses it and the task is not searched (zero trials);
- similar (the library measured other shapes of its family): its search starts from the
  family's best traces retargeted to its shapes (`transfer.TransferSeeds`), and its family's
  cost model is pre-trained on the family's library records (`family.FamilyCostModel.pretrain`);
- new: searched as without a library.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..records import KNOWN, reused_in, workload_hash
from .transfer import TransferSeeds

if TYPE_CHECKING:
    from ..records import Library, RecordStore
    from ..tasks import Task

PER_WORKLOAD = 64  # library records taken per workload of a family (seeds and pre-training)


@dataclass
class LibraryStart:
    """What a tune took from the library."""

    library: Library
    status: list[str]  # per task: known, similar or new
    skip: list[bool]  # per task: reused from the library, not searched
    reused: int  # records copied into the records folder this time
    added: int  # records of an earlier run added to the library first
    family_records: dict[str, list[list[Any]]] = field(default_factory=dict)

    def seeds(self, tasks: list[Task]) -> TransferSeeds | None:
        """Retargeting seeds for the searched tasks (None without family records)."""
        if not self.family_records:
            return None
        return TransferSeeds(self.family_records, {t.name: t.family for t in tasks})

    def to_json(self) -> dict[str, Any]:
        counts = {s: self.status.count(s) for s in ("known", "similar", "new")}
        return {"path": str(self.library.path), "reused_records": self.reused, **counts}


def start_from_library(library: Library, tasks: list[Task], store: RecordStore) -> LibraryStart:
    """Add what the folder measured before to the library, classify the tasks, copy the best
    records of known tasks the folder has not measured, and take the library records of the
    families of every task that will be searched."""
    added = library.add(store)
    hashes = [workload_hash(t.mod) for t in tasks]
    status = library.classify(tasks)
    db = store.database()
    copy = {h: t.mod for h, t, s in zip(hashes, tasks, status) if s == KNOWN}
    copy = {h: mod for h, mod in copy.items() if not db.has_workload(mod)}
    before = reused_in(store)
    searched = {t.family for h, t in zip(hashes, tasks) if h not in copy and h not in before}
    taken = library.take(copy, searched, PER_WORKLOAD)
    reused = library.copy_best(store, taken.best, copy)
    skip = reused_in(store)
    return LibraryStart(library, status, [h in skip for h in hashes], reused, added, taken.family)
