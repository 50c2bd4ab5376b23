"""edgetune against LiteRT on the same inputs: latency of both and numerical agreement."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..compile import build_model, export_model
from ..errors import BoardError
from ..measure.free_cores import contention_notes
from ..quant.float_requantization import FIXED_POINT
from ..runtime.inputs import load_input_steps
from .agreement import agreement
from .dequantized import dequantize_weights
from .isolated import (
    LITERT,
    TVM,
    EngineRun,
    most_others_cores,
    stacked,
    summary,
    time_rotating,
)
from .litert import LiteRTModel
from .substitute import describe_reference, substitute_custom_ops

if TYPE_CHECKING:
    from ..board import Board
    from ..frontend import Model
    from ..records import RecordStore


def compare_with_litert(
    model: Model,
    board: Board,
    records: RecordStore | None,
    input_paths: list[str] | None,
    repeat: int,
    threads: int,
    rounds: int = 3,
    steps: int | None = None,
) -> dict[str, Any]:
    """Build with the records, run both engines on the same inputs, and return the comparison.

    With `steps` (or inputs holding [N, ...]) both engines invoke the model that many times in
    sequence, a stateful model's states carried, every step's outputs compared; the latency is
    the last step's.

    LiteRT runs on this machine, so the board must be the host. MediaPipe custom ops with a
    builtin equivalent are substituted in LiteRT's copy of the model (oracle/substitute). Each
    engine is timed in a process of its own, `rounds` rounds of `repeat` calls (oracle/isolated).
    A dynamic-range model is also compared with LiteRT on a copy with its weights dequantized
    (edgetune's arithmetic; LiteRT's hybrid kernels round the activations as well).
    """
    if not board.is_host:
        raise BoardError(f"compare runs LiteRT on this machine: use --board host, not {board.name}")
    built = build_model(model, board, records)
    shapes = [list(t.shape) for t in model.info.inputs]  # dynamic dimensions as fixed at import
    content, substituted = substitute_custom_ops(Path(model.path).read_bytes())
    reference = LiteRTModel(content, threads, input_shapes=shapes)  # fails here if it cannot
    sequence = load_input_steps(model.info, input_paths, steps)
    out_ref = _outputs(reference, sequence)
    del reference  # its threads stay out of the timing
    dequantized, count = dequantize_weights(content)
    out_float = (
        _outputs(LiteRTModel(dequantized, threads, input_shapes=shapes), sequence) if count else []
    )
    exact = model.info.quantized and model.info.requantization == FIXED_POINT
    out_exact = (
        _outputs(LiteRTModel(content, 1, input_shapes=shapes, reference_kernels=True), sequence)
        if exact
        else []
    )
    with tempfile.TemporaryDirectory(prefix="edgetune-compare-") as tmp:
        work = Path(tmp)
        library = export_model(built, model, board, work / f"{model.info.name}.so")
        paths = [str(work / f"input{i}.npy") for i in range(len(sequence[0]))]
        for path, per_step in zip(paths, zip(*sequence)):
            np.save(path, stacked(per_step))
        n = len(sequence)
        runs = [
            EngineRun(TVM, str(library.path), threads, paths, repeat, None, str(work / "o.npz"), n),
            EngineRun(LITERT, str(model.path), threads, paths, repeat, shapes, steps=n),
        ]
        lat_ours, lat_ref = (summary(r) for r in time_rotating(runs, rounds))
        with np.load(work / "o.npz") as saved:
            out_ours = [saved[f"arr_{i}"] for i in range(len(saved.files))]
    agreements = [agreement(a, b) for a, b in zip(out_ours, out_ref)]
    agreements_float = [agreement(a, b) for a, b in zip(out_ours, out_float)]
    agreements_exact = [agreement(a, b) for a, b in zip(out_ours, out_exact)]
    notes = contention_notes(
        max(lat_ours["steal"], lat_ref["steal"]), most_others_cores([lat_ours, lat_ref])
    )
    cores = len(os.sched_getaffinity(0))
    if threads > cores:
        notes.append(
            f"{threads} threads on {cores} cores: each engine's threads wait for one another, so "
            "its timing measures the oversubscription more than the model"
        )
    return {
        "model": model.info.name,
        "board": board.name,
        "threads": threads,
        "steps": len(sequence),  # > 1: outputs compared over every step, latency the last's
        "timing": "each engine in its own process, rotating order",
        "tuned_tasks": built.tuned,
        "total_tasks": built.total,
        "edgetune": lat_ours,
        "litert": lat_ref,
        "reference": describe_reference(substituted),
        "speedup_vs_litert": lat_ref["median_ms"] / lat_ours["median_ms"],
        "timing_notes": notes,  # why the timings may not hold
        "agreement": [a.to_json() | {"describe": a.describe()} for a in agreements],
        "agreement_weights_dequantized": [
            a.to_json() | {"describe": a.describe()} for a in agreements_float
        ],
        "agreement_reference_kernels": [
            a.to_json() | {"describe": a.describe()} for a in agreements_exact
        ],
    }


def _outputs(engine: LiteRTModel, sequence: list[list[np.ndarray]]) -> list[np.ndarray]:
    """Each output over the steps invoked in sequence (states carried): as it is for one step,
    else [steps, ...]."""
    return [stacked(per_step) for per_step in zip(*(engine(inputs) for inputs in sequence))]


# agreements with LiteRT run otherwise, for the models where its default kernels compute
# otherwise than edgetune: key in the result -> what the lines say
AGAINST_OTHERS = [
    (
        "agreement_weights_dequantized",
        "dynamic-range model: LiteRT's hybrid kernels quantize activations on the fly; against "
        "LiteRT with the int8 weights dequantized (edgetune's arithmetic):",
    ),
    (
        "agreement_reference_kernels",
        "int8 with TFLite's fixed-point requantization (XNNPACK's int8 rounds otherwise, a few "
        "LSB; --requantize fp32 follows it): against LiteRT's reference kernels:",
    ),
]


def comparison_lines(result: dict[str, Any]) -> list[str]:
    """The comparison for a terminal: a latency table, the ratio, agreement per output."""
    rows = [
        (f"edgetune ({result['tuned_tasks']}/{result['total_tasks']} tasks tuned)", "edgetune"),
        ("LiteRT (XNNPACK)", "litert"),
    ]
    rounds = result["litert"]["rounds"]
    steps = result.get("steps", 1)
    seq = f", {steps} steps in sequence (outputs of all compared, latency the last's)"
    lines = [
        f"{result['model']} on {result['board']}, {result['threads']} thread(s)"
        f"{seq if steps > 1 else ''}, each engine in "
        f"its own process, {rounds} round{'s' if rounds != 1 else ''} x "
        f"{result['litert']['repeat'] // rounds} calls:",
        f"{'engine':<32}  {'median_ms':>9}  {'p90_ms':>8}  {'min_ms':>8}",
    ]
    for label, key in rows:
        lat = result[key]
        lines.append(
            f"{label:<32}  {lat['median_ms']:>9.3f}  {lat['p90_ms']:>8.3f}  {lat['min_ms']:>8.3f}"
        )
    lines.append(f"edgetune / LiteRT latency: {1 / result['speedup_vs_litert']:.2f}x")
    lines += [f"note: {n}" for n in result["timing_notes"]]
    if result["reference"] != "LiteRT":
        lines.append(f"reference: {result['reference']}")
    lines += [f"output {i}: {a['describe']}" for i, a in enumerate(result["agreement"])]
    for key, heading in AGAINST_OTHERS:
        if result.get(key):
            lines.append(heading)
            lines += [f"output {i}: {a['describe']}" for i, a in enumerate(result[key])]
    return lines
