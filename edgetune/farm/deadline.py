"""Calls with a hard deadline: the work runs in a TVM PopenWorker that is killed on timeout."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from ..paths import REPO_DIR


def _worker_env() -> None:
    """Let worker processes import edgetune when it runs from a checkout (not installed)."""
    paths = os.environ.get("PYTHONPATH", "").split(os.pathsep)
    if str(REPO_DIR) not in paths:
        os.environ["PYTHONPATH"] = os.pathsep.join(p for p in [str(REPO_DIR), *paths] if p)


class DeadlineWorker:
    """One reusable worker process; `call` raises TimeoutError when the deadline passes."""

    def __init__(self) -> None:
        from tvm.support.popen_pool import PopenWorker

        _worker_env()
        self._worker = PopenWorker()

    def call(self, fn: Callable[..., Any], *args: Any, timeout: float) -> Any:
        self._worker.send(fn, args, timeout=timeout)
        return self._worker.recv()

    def close(self) -> None:
        self._worker.kill()
