"""Latency statistics measured the same way for edgetune and for the LiteRT baseline."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np

# Timed calls when the caller does not fix them: at least DEFAULT_CALLS, and as many more as fill
# MIN_TIMED_S (up to MAX_CALLS): a model of microseconds timed for a few ms measures the thread
# pool's wake-up more than the model (tiny_int8 1.42-3.46x LiteRT over 50 calls, 1.65-1.69x).
DEFAULT_CALLS = 50
MIN_TIMED_S = 0.25
MAX_CALLS = 1_000_000


@dataclass(frozen=True)
class Latency:
    """Per-call wall-clock latency over `repeat` calls after warm-up, in milliseconds."""

    median_ms: float
    p90_ms: float
    p10_ms: float  # what the engine reaches when nothing else slows it
    min_ms: float
    mean_ms: float
    repeat: int

    def to_json(self) -> dict[str, float]:
        return asdict(self)

    def __str__(self) -> str:
        return f"median {self.median_ms:.3f} ms, p90 {self.p90_ms:.3f} ms (n={self.repeat})"

    @classmethod
    def from_seconds(cls, samples: list[float]) -> Latency:
        ms = np.asarray(samples) * 1e3
        return cls(
            median_ms=float(np.median(ms)),
            p90_ms=float(np.percentile(ms, 90)),
            p10_ms=float(np.percentile(ms, 10)),
            min_ms=float(ms.min()),
            mean_ms=float(ms.mean()),
            repeat=len(samples),
        )


def time_calls(
    call: Callable[[], object], repeat: int, warmup: int = 3, min_seconds: float = 0.0
) -> Latency:
    """Time `call` `repeat` times after `warmup` untimed calls; with `min_seconds`, more times
    if that many calls take less (sized from 10 calls' median, up to MAX_CALLS)."""
    for _ in range(warmup):
        call()
    if min_seconds > 0:
        per_call_s = float(np.median(_timed(call, 10)))
        repeat = max(repeat, min(MAX_CALLS, math.ceil(min_seconds / max(per_call_s, 1e-9))))
    return Latency.from_seconds(_timed(call, max(1, repeat)))


def calls_and_fill(repeat: int | None) -> tuple[int, float]:
    """`time_calls`' repeat and min_seconds for a caller's `repeat`: that many calls exactly,
    or for None at least DEFAULT_CALLS and as many more as fill MIN_TIMED_S."""
    return (repeat, 0.0) if repeat else (DEFAULT_CALLS, MIN_TIMED_S)


def _timed(call: Callable[[], object], n: int) -> list[float]:
    samples = []
    for _ in range(n):
        t0 = time.perf_counter()
        call()
        samples.append(time.perf_counter() - t0)
    return samples


def time_interleaved(timers: list[Callable[[int], Latency]], rounds: int, per_pass: int):
    """Run every `timer(per_pass)` once per pass, `rounds` passes, so that a load change on a
    shared machine hits every timer alike; per timer, the list of its passes' Latency."""
    passes: list[list[Latency]] = [[] for _ in timers]
    for _ in range(rounds):
        for i, timer in enumerate(timers):
            passes[i].append(timer(per_pass))
    return passes
