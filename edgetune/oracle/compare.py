"""edgetune against LiteRT on the same inputs: latency of both and numerical agreement."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..compile import build_model, export_model
from ..errors import BoardError, ModelError
from ..measure.free_cores import contention_notes
from ..quant.float_requantization import FIXED_POINT
from ..runtime.inputs import load_input_steps
from ..runtime.timing import calls_and_fill
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
from .litert import LiteRTModel, ReferenceKernelsAbort
from .mediapipe_ops import NUMPY_REFERENCES
from .reference import litert_reference
from .substitute import custom_ops, describe_reference, substitute_custom_ops

if TYPE_CHECKING:
    from ..board import Board
    from ..frontend import Model
    from ..records import RecordStore


def compare_with_litert(
    model: Model,
    board: Board,
    records: RecordStore | None,
    input_paths: list[str] | None,
    repeat: int | None,
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
    engine is timed in a process of its own, `rounds` rounds of `repeat` calls (oracle/isolated;
    None: at least DEFAULT_CALLS calls, and as many more as fill MIN_TIMED_S: runtime.timing).
    A dynamic-range model is also compared with LiteRT on a copy with its weights dequantized
    (edgetune's arithmetic; LiteRT's hybrid kernels round the activations as well).
    """
    if not board.is_host:
        raise BoardError(f"compare runs LiteRT on this machine: use --board host, not {board.name}")
    built = build_model(model, board, records)
    shapes = [list(t.shape) for t in model.info.inputs]  # dynamic dimensions as fixed at import
    buf = Path(model.path).read_bytes()
    content, substituted = substitute_custom_ops(buf)
    sequence = load_input_steps(model.info, input_paths, steps)
    in_numpy = sorted(set(custom_ops(content)) & {name for name, _ in NUMPY_REFERENCES})
    if in_numpy:  # LiteRT cannot run it whole: numerics against LiteRT + NumPy, no LiteRT timing
        mixed = litert_reference(buf, shapes, model.info.quantized)
        refs, name = References(_outputs(mixed.run, sequence)), mixed.name
    else:
        refs, name = _litert_outputs(model, content, shapes, threads, sequence), None
    with tempfile.TemporaryDirectory(prefix="edgetune-compare-") as tmp:
        work = Path(tmp)
        library = export_model(built, model, board, work / f"{model.info.name}.so")
        paths = [str(work / f"input{i}.npy") for i in range(len(sequence[0]))]
        for path, per_step in zip(paths, zip(*sequence)):
            np.save(path, stacked(per_step))
        n, (calls, least) = len(sequence), calls_and_fill(repeat)
        ours = EngineRun(TVM, str(library.path), threads, paths, calls, None,
                         str(work / "o.npz"), n, min_seconds=least)  # fmt: skip
        litert = EngineRun(LITERT, str(model.path), threads, paths, calls, shapes, steps=n,
                           builtin_kernels=bool(refs.xnnpack_refused),
                           min_seconds=least)  # fmt: skip
        runs = [ours, litert]
        timed = [summary(r) for r in time_rotating(runs[: 1 if in_numpy else 2], rounds)]
        with np.load(work / "o.npz") as saved:
            out_ours = [saved[f"arr_{i}"] for i in range(len(saved.files))]
    lat_ours, lat_ref = timed[0], timed[1] if len(timed) > 1 else None
    notes = contention_notes(max(t["host_steal"] for t in timed), most_others_cores(timed))
    if in_numpy:
        notes.append(
            f"LiteRT not timed: its Python package has no MediaPipe op resolver for "
            f"{', '.join(in_numpy)}; outputs compared with LiteRT running the rest and NumPy "
            "versions of those ops"
        )
    if refs.xnnpack_refused:
        notes.append(
            f"XNNPACK cannot prepare the model ({refs.xnnpack_refused}): LiteRT ran on its "
            "builtin kernels, timed and compared so"
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
        "litert": lat_ref,  # None: LiteRT cannot run the model (MediaPipe ops in NumPy)
        "litert_kernels": "builtin" if refs.xnnpack_refused else "XNNPACK",
        "reference": name or describe_reference(substituted),
        "speedup_vs_litert": lat_ref["median_ms"] / lat_ours["median_ms"] if lat_ref else None,
        # the text's ratio: edgetune's latency over LiteRT's (below 1: edgetune is faster)
        "latency_vs_litert": lat_ours["median_ms"] / lat_ref["median_ms"] if lat_ref else None,
        "timing_notes": notes,  # why the timings may not hold
        "agreement": _agreements(out_ours, refs.default),
        "agreement_weights_dequantized": _agreements(out_ours, refs.dequantized),
        "agreement_reference_kernels": _agreements(out_ours, refs.reference_kernels),
        "reference_kernels_note": refs.reference_kernels_note,
    }


@dataclass
class References:
    """The outputs edgetune's are compared with: LiteRT as users run it (or the reference when
    LiteRT cannot run the model), and, where those compute otherwise than edgetune, LiteRT with
    a dynamic-range model's weights dequantized and LiteRT's reference kernels (empty: not
    needed)."""

    default: list[np.ndarray]
    dequantized: list[np.ndarray] = field(default_factory=list)
    reference_kernels: list[np.ndarray] = field(default_factory=list)
    reference_kernels_note: str = ""  # why they were needed and could not run
    xnnpack_refused: str = ""  # why XNNPACK cannot prepare the model (LiteRT's builtin kernels)


def _litert_outputs(
    model: Model, content: bytes, shapes: list[list[int]], threads: int, sequence
) -> References:
    """LiteRT's outputs over the sequence, on its builtin kernels where XNNPACK cannot prepare
    the model (ModelError here if LiteRT cannot run it at all)."""
    refused = ""
    try:
        engine = LiteRTModel(content, threads, input_shapes=shapes)
    except ModelError as err:  # e.g. an int8 depthwise conv whose multiplier XNNPACK refuses
        try:
            engine = LiteRTModel(content, threads, True, shapes)
        except ModelError:
            raise err from None
        refused = str(err).removeprefix("LiteRT cannot run the model: ")
    dequantized, count = dequantize_weights(content)
    refs = References(
        _outputs(engine, sequence),
        _outputs(LiteRTModel(dequantized, threads, bool(refused), shapes), sequence)
        if count
        else [],
        xnnpack_refused=refused,
    )
    if model.info.quantized and model.info.requantization == FIXED_POINT:
        try:
            reference = LiteRTModel(content, 1, input_shapes=shapes, reference_kernels=True)
        except ReferenceKernelsAbort as err:
            refs.reference_kernels_note = f"{err}: compared with XNNPACK only"
        else:
            refs.reference_kernels = _outputs(reference, sequence)
    return refs


def _agreements(ours: list[np.ndarray], reference: list[np.ndarray]) -> list[dict[str, Any]]:
    return [
        (a := agreement(o, r)).to_json() | {"describe": a.describe()}
        for o, r in zip(ours, reference)
    ]


def _outputs(
    engine: Callable[[list[np.ndarray]], list[np.ndarray]], sequence: list[list[np.ndarray]]
) -> list[np.ndarray]:
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
        "quantized model, edgetune following TFLite's reference kernels (XNNPACK's quantized "
        "kernels round otherwise, up to ~20 LSB on MobileNetV2; --requantize fp32 follows "
        "them): against LiteRT's reference kernels:",
    ),
]


def _calls(result: dict[str, Any]) -> str:
    """Calls per round: one figure, or each engine's (as many as fill a round's time)."""
    rounds = result["edgetune"]["rounds"]
    engines = (("edgetune", "edgetune"), ("LiteRT", "litert"))
    calls = {name: result[key]["repeat"] // rounds for name, key in engines if result[key]}
    if len(set(calls.values())) == 1:
        return f"{next(iter(calls.values()))} calls"
    return f"{' / '.join(f'{n} ({name})' for name, n in calls.items())} calls"


def comparison_lines(result: dict[str, Any]) -> list[str]:
    """The comparison for a terminal: a latency table, the ratio, agreement per output."""
    rows = [
        (f"edgetune ({result['tuned_tasks']}/{result['total_tasks']} tasks tuned)", "edgetune"),
        (f"LiteRT ({result.get('litert_kernels', 'XNNPACK')})", "litert"),
    ]
    rounds = result["edgetune"]["rounds"]
    steps = result.get("steps", 1)
    seq = f", {steps} steps in sequence (outputs of all compared, latency the last's)"
    lines = [
        f"{result['model']} on {result['board']}, {result['threads']} thread(s)"
        f"{seq if steps > 1 else ''}, each engine in "
        f"its own process, {rounds} round{'s' if rounds != 1 else ''} x {_calls(result)}:",
        f"{'engine':<32}  {'median_ms':>9}  {'p90_ms':>8}  {'min_ms':>8}",
    ]
    for label, key in rows:
        lat = result[key]
        if lat is None:
            lines.append(f"{label:<32}  {'n/a':>9}  {'n/a':>8}  {'n/a':>8}")
            continue
        lines.append(
            f"{label:<32}  {lat['median_ms']:>9.3f}  {lat['p90_ms']:>8.3f}  {lat['min_ms']:>8.3f}"
        )
    if result["latency_vs_litert"]:
        lines.append(f"edgetune / LiteRT latency: {result['latency_vs_litert']:.2f}x")
    lines += [f"note: {n}" for n in result["timing_notes"]]
    if result["reference"] != "LiteRT":
        lines.append(f"reference: {result['reference']}")
    if any(result.get(key) for key, _ in AGAINST_OTHERS):  # more than one: say which is which
        kernels = "builtin" if result.get("litert_kernels") == "builtin" else "default"
        lines.append(f"against {result['reference']} as timed above (its {kernels} kernels):")
    lines += [f"output {i}: {a['describe']}" for i, a in enumerate(result["agreement"])]
    for key, heading in AGAINST_OTHERS:
        if result.get(key):
            lines.append(heading)
            lines += [f"output {i}: {a['describe']}" for i, a in enumerate(result[key])]
    if result.get("reference_kernels_note"):
        lines.append(f"note: {result['reference_kernels_note']}")
    return lines
