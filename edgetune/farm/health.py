"""The health check: a small known kernel (c = 2a + b) built for the board's target and run
there; a board passes when the answer is right."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .state import farm_dir

if TYPE_CHECKING:
    from ..board import Board

N = 64


def inputs() -> list[np.ndarray]:
    a = np.arange(N, dtype="float32") / 4
    b = np.full(N, 0.5, dtype="float32") - a[::-1]
    return [a, b]


def expected() -> np.ndarray:
    a, b = inputs()
    return 2 * a + b


def kernel_library(board: Board) -> Path:
    """The health kernel compiled for `board` (cached per target and toolchain)."""
    import tvm
    from tvm import te

    target = board.target()
    tag = hashlib.sha1(f"{target}|{board.toolchain_name}".encode()).hexdigest()[:12]
    path = farm_dir() / "health" / f"health-{tag}.so"
    if path.is_file():
        return path
    a = te.placeholder((N,), "float32", name="a")
    b = te.placeholder((N,), "float32", name="b")
    c = te.compute((N,), lambda i: a[i] * 2.0 + b[i], name="c")
    main = te.create_prim_func([a, b, c]).with_attr("global_symbol", "main")
    lib = tvm.compile(tvm.IRModule({"main": main}), target=target)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.so")
    lib.export_library(str(tmp), fcompile=board.toolchain().fcompile())
    tmp.replace(path)
    return path


def verdict(result: np.ndarray) -> str:
    """'' when the board computed the right answer, else what was wrong."""
    want = expected()
    if result.shape != want.shape or not np.allclose(result, want, rtol=1e-6, atol=1e-6):
        return f"health kernel gave a wrong answer (max error {np.max(np.abs(result - want)):.3g})"
    return ""
