"""Latency statistics measured the same way for edgetune and for the LiteRT baseline."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np


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


def time_calls(call: Callable[[], object], repeat: int, warmup: int = 3) -> Latency:
    """Time `call` `repeat` times after `warmup` untimed calls."""
    for _ in range(warmup):
        call()
    samples = []
    for _ in range(max(1, repeat)):
        t0 = time.perf_counter()
        call()
        samples.append(time.perf_counter() - t0)
    return Latency.from_seconds(samples)


def time_interleaved(timers: list[Callable[[int], Latency]], rounds: int, per_pass: int):
    """Run every `timer(per_pass)` once per pass, `rounds` passes, so that a load change on a
    shared machine hits every timer alike; per timer, the list of its passes' Latency."""
    passes: list[list[Latency]] = [[] for _ in timers]
    for _ in range(rounds):
        for i, timer in enumerate(timers):
            passes[i].append(timer(per_pass))
    return passes
