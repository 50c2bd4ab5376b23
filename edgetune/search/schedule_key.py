"""A schedule's identity, the same in every process: what `SkipMeasured` skips, `KeptBuilds`
finds and a final choice names.

A digest of the schedule's trace text before the postprocessors, dead instructions dropped
(`Trace.simplified`): the postprocessors sample nothing, so this also identifies the
postprocessed schedule. Not the scheduled module's structural hash: in memory some
postprocessor annotations are booleans, which a records folder stores as integers, so the module
a later process replays from the records hashes apart from the one the search measured (final
choices written by a run that searched were never current for the next run).
"""

from __future__ import annotations

import hashlib
from typing import Any


def schedule_key(trace: Any) -> str:
    """'0x' and 16 hex digits naming the schedule `trace` applies."""
    text = str(trace.simplified(remove_postproc=True))
    return "0x" + hashlib.sha1(text.encode()).hexdigest()[:16]
