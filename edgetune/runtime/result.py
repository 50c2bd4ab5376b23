"""What running a built model on a board gives: outputs, latency, and how it was measured."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .artifact import ArtifactMeta, read_artifact_meta
from .inputs import load_input_steps, stack_steps
from .timing import Latency

if TYPE_CHECKING:
    from ..board import Board

# how a board runs an artifact: (board, library, each step's inputs, the model's initial states,
# timed runs or None for the backend's default) -> (each step's outputs, latency); the steps run
# in sequence, the states carried from one to the next
RunSteps = Callable[
    ["Board", Path, list[list[np.ndarray]], list[np.ndarray], int | None],
    tuple[list[list[np.ndarray]], Latency],
]


@dataclass
class RunResult:
    """Outputs and latency of an artifact on a board (`run`, `deploy`)."""

    artifact: str
    board: str
    meta: ArtifactMeta
    step_outputs: list[list[np.ndarray]]  # the outputs of each invocation, in sequence
    latency: Latency
    timing_note: str = ""  # set for emulated or CPU-backed boards: not the real board's speed
    details: dict[str, Any] = field(default_factory=dict)  # e.g. {"via": "ssh"}
    emulated: bool = False  # the board is an emulator: its latency is never the board's

    @property
    def outputs(self) -> list[np.ndarray]:
        """The outputs as written: with several steps, each stacked on a leading step axis."""
        return stack_steps(self.step_outputs)

    def to_json(self) -> dict[str, Any]:
        report = {
            "artifact": self.artifact,
            "board": self.board,
            "emulated": self.emulated,
            **self.details,
            "model": self.meta.model.name,
            "steps": len(self.step_outputs),
            "states": len(self.meta.model.states),
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
        steps, states = len(self.step_outputs), len(self.meta.model.states)
        if steps > 1 or states:
            carried = f", {states} state tensor(s) carried from each to the next" if states else ""
            out.append(f"{steps} invocation(s) in sequence{carried}")
        out += [
            f"  output {i}: shape {list(o.shape)} {o.dtype}" for i, o in enumerate(self.outputs)
        ]
        return out


def run_steps_on(
    board: Board,
    path: str | Path,
    input_paths: list[str] | None,
    steps: int | None,
    repeat: int | None,
    run: RunSteps,
    details: dict[str, Any] | None = None,
) -> RunResult:
    """Run an artifact built for `board` with `run` on the inputs (.npy paths, random if None)
    of `steps` invocations in sequence; latency over `repeat` runs of the last one."""
    meta = read_artifact_meta(path, board.name, board.target())
    inputs = load_input_steps(meta.model, input_paths, steps)
    states = meta.model.initial_states()
    outputs, latency = run(board, Path(path), inputs, states, repeat)
    note = board.measure.timing_note
    return RunResult(
        str(path), board.name, meta, outputs, latency, note, details or {}, board.emulated
    )
