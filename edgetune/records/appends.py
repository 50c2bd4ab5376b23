"""Did MetaSchedule's JSONDatabase really append a batch's records?

Its C++ writer ignores write errors: on a full disk, a quota or a file-size limit a tune went
on measuring and exited 0 with the records cut short or missing. `AppendWatch` reads what each
batch appended to the records file (the new bytes only) and stops the tune when the batch's
lines are not all there, whole.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import RecordsError
from .layout import TUNING_RECORDS, WORKLOADS


class AppendWatch:
    """Watches a records folder's database files from the size they have now."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        path = self.folder / TUNING_RECORDS
        self.size = path.stat().st_size if path.is_file() else 0

    def batch(self, records: int) -> None:
        """RecordsError unless `records` whole lines were appended since the last batch and
        the workload file ends with a whole line."""
        path = self.folder / TUNING_RECORDS
        new = b""
        if path.is_file():
            with path.open("rb") as f:
                f.seek(self.size)
                new = f.read()
        workloads = self.folder / WORKLOADS
        cut = workloads.is_file() and not _ends_whole(workloads)
        if new.count(b"\n") < records or not new.endswith(b"\n") or cut:
            raise RecordsError(
                f"the last batch's {records} records were not all written to {self.folder} "
                "(disk full, a quota or a file size limit?): the records written before are "
                "kept; free space and run the same command again to resume"
            )
        self.size += len(new)


def _ends_whole(path: Path) -> bool:
    with path.open("rb") as f:
        f.seek(max(0, path.stat().st_size - 1))
        return f.read() in (b"", b"\n")
