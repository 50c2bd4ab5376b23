"""Final choices: each task's top candidates re-measured together at the end of a tune, and the
record that won (`search.final` measures them; this module is how a folder keeps them).

`final-choices.jsonl` gets one line per task each time its candidates are re-measured: the
task, its workload (MetaSchedule's structural hash, as `database_workload.json` writes it), the
candidates (`search.schedule_key`, the search's estimate, the re-measured one or an error), the
index of the chosen one and its tuning record in MetaSchedule's JSON form with the re-measured
run times. Lines are only appended; a later line for a workload supersedes an earlier one (more
tuning changed its top candidates). `final_database` turns the latest line of each workload
into a MetaSchedule database that `store.database_of` puts before the tuning records, so the
chosen schedule is what every build, profile and report uses.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..tasks import MODULE_EQUALITY
from .layout import FINAL_CHOICES, WORKLOADS


def record_json(record: Any, run_secs: list[float]) -> list[Any]:
    """A tuning record in the JSON form MetaSchedule's JSONDatabase writes, with other run
    times. Converted here because neither the record's Python `as_json` nor tvm-ffi's
    `ffi.json.Stringify` accepts traces with index maps (weight layout rewrites): 0.27 refuses
    `tirx.IndexMap` in both."""
    from ..tvm_api import ms

    data = _plain(ms._ffi_api.TuningRecordAsJSON(record))
    data[1] = run_secs
    return data


def _plain(obj: Any) -> Any:
    import tvm

    from ..tvm_api import tirx

    if isinstance(obj, bool):
        return int(obj)
    if obj is None or isinstance(obj, int | float | str):
        return obj
    if isinstance(obj, tirx.IntImm | tirx.FloatImm):
        return obj.value
    if isinstance(obj, tvm.ir.Array):
        return [_plain(x) for x in obj]
    if isinstance(obj, tvm.ir.Map):
        return {_plain(k): _plain(v) for k, v in obj.items()}
    return tvm.ir.save_json(obj)  # an index map: as MetaSchedule writes it


def append_choice(folder: str | Path, entry: dict[str, Any]) -> None:
    """Append one task's re-measured candidates and choice (one line, written whole)."""
    with (Path(folder) / FINAL_CHOICES).open("a", encoding="utf-8") as f:
        f.write(json.dumps(entry) + "\n")


def read_choices(folder: str | Path) -> dict[str, dict[str, Any]]:
    """Workload hash -> its latest line (a line cut short by a kill is skipped)."""
    path = Path(folder) / FINAL_CHOICES
    latest: dict[str, dict[str, Any]] = {}
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            latest[entry["workload"]] = entry
    return latest


def final_database(folder: str | Path, choices: dict[str, dict[str, Any]]) -> Any:
    """A MetaSchedule database with the chosen record of each workload in `choices` (None when
    no task has one). The workloads are read from the folder's tuning database files."""
    from ..tvm_api import ms

    chosen = {h: e["record"] for h, e in choices.items() if e.get("record") is not None}
    if not chosen:
        return None
    db = ms.database.MemoryDatabase(module_equality=MODULE_EQUALITY)
    for line in (Path(folder) / WORKLOADS).read_text(encoding="utf-8").splitlines():
        try:
            parsed = json.loads(line)
        except ValueError:
            continue
        if str(parsed[0]) in chosen:
            workload = db.commit_workload(ms.database.Workload.from_json(parsed).mod)
            record = ms.database.TuningRecord.from_json(chosen[str(parsed[0])], workload)
            db.commit_tuning_record(record)
    return db
