"""What running a built model on a board gives: outputs, latency, and how it was measured."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .artifact import ArtifactMeta
from .timing import Latency


@dataclass
class RunResult:
    """Outputs and latency of an artifact on a board (`run`, `deploy`)."""

    artifact: str
    board: str
    meta: ArtifactMeta
    outputs: list[np.ndarray]
    latency: Latency
    timing_note: str = ""  # set for emulated or CPU-backed boards: not the real board's speed
    details: dict[str, Any] = field(default_factory=dict)  # e.g. {"via": "ssh"}

    def to_json(self) -> dict[str, Any]:
        report = {
            "artifact": self.artifact,
            "board": self.board,
            **self.details,
            "model": self.meta.model.name,
            "latency": self.latency.to_json(),
            "outputs": [{"shape": list(o.shape), "dtype": str(o.dtype)} for o in self.outputs],
        }
        if self.timing_note:
            report["timing_note"] = self.timing_note
        return report

    def lines(self) -> list[str]:
        """The result for a terminal."""
        via = f" via {self.details['via']}" if "via" in self.details else ""
        out = [f"{self.meta.model.name} on {self.board}{via}: {self.latency}"]
        if self.timing_note:
            out.append(f"note: {self.timing_note}")
        out += [
            f"  output {i}: shape {list(o.shape)} {o.dtype}" for i, o in enumerate(self.outputs)
        ]
        return out
