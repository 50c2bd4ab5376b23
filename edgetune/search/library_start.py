"""A tune's start from the records library: known tasks reused, similar ones given a head start.

- known (the library measured this very task): its best records (as many as the final phase
  re-measures, which then picks among them as the tune that measured them did) are copied into
  the records folder, so `build` uses them and the task is not searched (zero trials), if the
  library measured it at least as often as this run could, or in a tune at least as thorough;
  else it is searched like a similar task;
- similar (the library measured other shapes of its family): its search starts from the
  family's best traces retargeted to its shapes (`transfer.TransferSeeds`);
- new: searched as without a library.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..records import KNOWN, read_tasks, reused_in, workload_hash
from .final import FINAL_TOP
from .transfer import TransferSeeds

if TYPE_CHECKING:
    from ..records import Library, RecordStore
    from ..tasks import Task

PER_WORKLOAD = 64  # library records taken per workload of a family (seed candidates)


@dataclass
class LibraryStart:
    """What a tune took from the library."""

    library: Library
    status: list[str]  # per task: known, similar or new
    skip: list[bool]  # per task: reused from the library, not searched
    reused: int  # records copied into the records folder this time
    added: int  # records of an earlier run added to the library first
    measured: list[int]  # per task: the library's records of this very kernel
    per_task: list[int]  # per task: trials per task of the library's tune that measured it
    here: list[bool]  # per task: measured in the records folder itself (searched as usual)
    hashes: list[str]  # per task: its workload hash (how the records name it)
    family_records: dict[str, list[list[Any]]] = field(default_factory=dict)

    def seeds(self, tasks: list[Task]) -> TransferSeeds | None:
        """Retargeting seeds for the searched tasks (None without family records)."""
        if not self.family_records:
            return None
        return TransferSeeds(self.family_records, {t.name: t.family for t in tasks})

    def to_json(self) -> dict[str, Any]:
        counts = {s: self.status.count(s) for s in ("known", "similar", "new")}
        return {"path": str(self.library.path), "reused_records": self.reused, **counts}


def start_from_library(
    library: Library, tasks: list[Task], store: RecordStore, trials: int
) -> LibraryStart:
    """Add what the folder measured before to the library, classify the tasks, copy the best
    records of known tasks the folder has not measured, and take the library records of the
    families of every task that will be searched (one read of the library).

    A known task is reused only if the library measured it at least as often as this run could
    (`trials` / tasks), or measured it in a tune that gave its tasks at least that many trials
    on average (that tune's scheduler gave this task fewer, as this run's would: a retrained
    model tuned with the same budget is reused whole). A kernel the library tried a few times in
    a thinner tune is searched like a similar one (session 6: a pointwise conv known from 4
    library records was reused at 80 us; the run without library found 34 us)."""
    library.create()  # a library it cannot write fails here, not after the search
    added = library.add(store)
    hashes = [workload_hash(t.mod) for t in tasks]
    found = library.match(tasks, hashes, {t.family for t in tasks}, PER_WORKLOAD, FINAL_TOP)
    share = trials // max(1, len(tasks))
    db = store.database()
    here = [db.has_workload(t.mod) for t in tasks]
    began = {t["name"]: t.get("library") for t in (read_tasks(store.path) or {}).get("tasks", [])}
    status = [_status(s, began.get(t.name), own) for t, s, own in zip(tasks, found.status, here)]
    copy = {
        h: t.mod
        for h, t, s, n, per_task, own in zip(
            hashes, tasks, found.status, found.measured, found.per_task, here
        )
        if s == KNOWN and max(n, per_task) >= share and not own
    }
    reused = library.copy_best(store, {h: found.taken.best[h] for h in copy}, copy)
    skip = reused_in(store)
    searched = {t.family for h, t in zip(hashes, tasks) if h not in skip}
    family = {f: w for f, w in found.taken.family.items() if f in searched}
    skipped = [h in skip for h in hashes]
    return LibraryStart(
        library,
        status,
        skipped,
        reused,
        added,
        found.measured,
        found.per_task,
        here,
        hashes,
        family,
    )


def _status(now: str, began: str | None, here: bool) -> str:
    """A task's library status: what the library was to it when this records folder's tune
    began (`began`, from its task list), if the folder measured it (`here`): the library now
    holds the folder's own records, which do not make the task known."""
    if not here or began is None:
        return now
    return KNOWN if began == "reused" else began
