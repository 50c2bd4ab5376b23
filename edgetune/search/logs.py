"""MetaSchedule's log files for one tuning run, set up without touching anyone else's logging.

MetaSchedule's own `get_loggers_from_work_dir` builds a `dictConfig` from the names of every
handler already on its logger; a test runner or an application that attached an unnamed handler
(pytest 9 does) makes the second tune in a process crash. edgetune therefore sets up the same
log files itself: one file per task plus `task_scheduler.log` under `<records>/logs/`, handlers
that carry edgetune's name so that a later run replaces exactly them, and no propagation, so
MetaSchedule's debug output never reaches the root logger. Warnings also go to stderr.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from ..records.layout import LOGS
from ..tvm_api import LOCATIONS

MS_LOGGER = LOCATIONS["ms"]  # MetaSchedule's loggers are named after its package
HANDLER_PREFIX = "edgetune:"
FORMAT = logging.Formatter("%(asctime)s [%(levelname)s] %(message)s", "%Y-%m-%d %H:%M:%S")


def _own(logger: logging.Logger, handlers: list[logging.Handler]) -> None:
    """Replace the handlers edgetune put on `logger` earlier with `handlers`; keep foreign ones."""
    for old in [h for h in logger.handlers if (h.get_name() or "").startswith(HANDLER_PREFIX)]:
        logger.removeHandler(old)
        old.close()
    for new in handlers:
        logger.addHandler(new)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False


def _file_handler(path: Path) -> logging.Handler:
    handler = logging.FileHandler(path, mode="a", delay=True)
    handler.set_name(f"{HANDLER_PREFIX}{path.name}")
    handler.setLevel(logging.DEBUG)
    handler.setFormatter(FORMAT)
    return handler


def _console_handler() -> logging.Handler:
    handler = logging.StreamHandler(sys.stderr)
    handler.set_name(f"{HANDLER_PREFIX}console")
    handler.setLevel(logging.WARNING)
    handler.setFormatter(FORMAT)
    return handler


def task_loggers(work_dir: str | Path, task_names: list[str]) -> list[logging.Logger]:
    """Loggers for MetaSchedule's TuneContexts, one per task, writing under `work_dir/logs`.

    File names are MetaSchedule's own (`<logger name>.log`), so existing records folders keep
    appending to the same files.
    """
    log_dir = Path(work_dir) / LOGS
    log_dir.mkdir(parents=True, exist_ok=True)
    _own(
        logging.getLogger(MS_LOGGER),
        [_file_handler(log_dir / f"{MS_LOGGER}.logging.task_scheduler.log"), _console_handler()],
    )
    width = len(str(max(len(task_names) - 1, 0)))
    loggers = []
    for i, name in enumerate(task_names):
        logger = logging.getLogger(f"{MS_LOGGER}.logging.task_{i:0{width}d}_{name[:100]}")
        _own(logger, [_file_handler(log_dir / f"{logger.name}.log")])
        loggers.append(logger)
    return loggers


NO_CANDIDATE = "Cannot sample enough initial population"  # EvolutionarySearch gave up on a task


def without_candidates(work_dir: str | Path, task_names: list[str]) -> dict[str, str]:
    """Of `task_names`, those whose search sampled no valid candidate (every sample rejected by
    the rule set's postprocessors, e.g. VerifyGPUCode): name -> its log file."""
    found = {}
    for name in task_names:
        for log in (Path(work_dir) / LOGS).glob(f"{MS_LOGGER}.logging.task_*_{name[:100]}.log"):
            if NO_CANDIDATE in log.read_text(errors="replace", encoding="utf-8"):
                found[name] = str(log)
    return found
