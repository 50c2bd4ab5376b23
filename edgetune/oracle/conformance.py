"""Does an untuned edgetune build of a model match LiteRT's reference kernels? (one verdict)

Custom ops with an exact builtin equivalent are substituted in the reference's copy of the
model (oracle/substitute); MediaPipe ops without one run in NumPy between LiteRT runs
(oracle/numpy_ops_reference; status NUMPY_PASS when they match). The verdict's `reference`
names what was substituted or run in NumPy.

Float outputs pass when the max abs difference is within FLOAT_RTOL of the output's largest
magnitude; integer outputs when no element is off by more than INT_LSB. Every output counts.
Integer models are compared with TFLite's reference kernels; where those and LiteRT's builtin
kernels disagree (int8 SUM, session 51), an output matching the builtin kernels passes, and
the verdict says by how much the reference kernels differ.
"""

from __future__ import annotations

import tempfile
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import EdgetuneError, ModelError, first_line
from .reference import builtin_reference, litert_reference

if TYPE_CHECKING:
    from ..board import Board

FLOAT_RTOL = 1e-3  # max |ours - LiteRT| / max |LiteRT|, per output
INT_LSB = 1  # max |ours - LiteRT| in quantized steps, per output
STEPS = 3  # invocations compared, each on new random inputs (state carries across them)
NO_REFERENCE = "no-ref"  # edgetune built and ran it, but LiteRT cannot run it to compare
# matched a reference where LiteRT runs all but the model's MediaPipe custom ops, and those run
# in NumPy (mediapipe_ops): not a LiteRT pass, since LiteRT never ran those ops
NUMPY_PASS = "pass-np"


def output_error(ours: np.ndarray, ref: np.ndarray) -> tuple[str, float]:
    """("rel", max abs diff / max |ref|) for float outputs, ("lsb", max diff) for integers."""
    if ours.shape != ref.shape:
        return "shape", float("inf")
    diff = np.abs(ours.astype(np.float64) - ref.astype(np.float64))
    if not diff.size:
        return "rel", 0.0
    if np.issubdtype(ref.dtype, np.floating):
        if not np.isfinite(diff).all():
            same = np.array_equal(ours, ref, equal_nan=True)
            return "rel", 0.0 if same else float("inf")
        return "rel", float(diff.max() / max(float(np.abs(ref).max()), 1e-6))
    return "lsb", float(diff.max())


def _passes(kind: str, err: float) -> bool:
    return (kind == "rel" and err <= FLOAT_RTOL) or (kind == "lsb" and err <= INT_LSB)


def check_model(
    path: str | Path,
    board: Board,
    seed: int = 0,
    input_shapes: dict | None = None,
    tuned_trials: int = 0,
) -> dict[str, Any]:
    """Import, build and run `path` on `board`, compare with LiteRT on seeded random input; a
    JSON-ready verdict (status pass, fail or NO_REFERENCE) with the first error line when any
    stage fails. Built untuned, or with `tuned_trials` > 0 tuned first (that many candidates
    a task, family search, in a temporary records folder): tuned schedules rewrite layouts
    and inline epilogues that an untuned build never exercises."""
    from ..compile import build_model
    from ..frontend import load_model, read_tflite
    from ..runtime import load_executable

    result: dict[str, Any] = {"model": Path(path).stem, "status": "fail", "stage": "import"}
    try:
        result["quantization"] = read_tflite(path)[1].quantization
        model = load_model(path, input_shapes=input_shapes)
        with tempfile.TemporaryDirectory() as folder:
            records = None
            if tuned_trials:
                result["stage"] = "tune"
                records = _tuned(model, board, Path(folder), tuned_trials)
            result["stage"] = "build"
            built = build_model(model, board, records)
        if tuned_trials:
            result |= {"tuned": f"{built.tuned}/{built.total}", "unapplied": built.unapplied}
        result["stage"] = "run"
        ours = load_executable(built.exe, board.hardware.cores, info=model.info)
        result["stage"] = "reference"
        shapes = [t.shape for t in model.info.inputs]
        try:
            buf = Path(path).read_bytes()
            reference = litert_reference(buf, shapes, model.info.quantized)
        except ModelError as err:  # e.g. a custom op LiteRT does not know
            return result | {"status": NO_REFERENCE, "error": str(err)}
        result["reference"] = reference.name
        errors = _errors(ours, reference.run, model.info, seed)
        if model.info.quantized and not all(_passes(k, e) for k, e in errors):
            builtin = builtin_reference(buf, shapes)
            fresh = load_executable(built.exe, board.hardware.cores, info=model.info)
            builtin_errors = _errors(fresh, builtin.run, model.info, seed)
            if all(_passes(k, e) for k, e in builtin_errors):
                result["reference_kernels_differ"] = [{"kind": k, "error": e} for k, e in errors]
                result["reference"] = builtin.name
                errors = builtin_errors
        result["stage"] = "compare"
        result["outputs"] = [{"kind": k, "error": e} for k, e in errors]
        if all(_passes(k, e) for k, e in errors):
            result |= {"status": NUMPY_PASS if reference.numpy_ops else "pass", "stage": "done"}
        else:
            worst = max(errors, key=lambda ke: ke[1] / (FLOAT_RTOL if ke[0] == "rel" else 1))
            result["error"] = (
                f"outputs differ from {result['reference']}: {worst[0]} error {worst[1]:.3g}"
            )
    except EdgetuneError as err:
        result["error"] = str(err).splitlines()[0]
    except Exception as err:  # noqa: BLE001 - the verdict names any failure, never raises
        last = traceback.extract_tb(err.__traceback__)[-1]
        first = first_line(err, chars=200)
        result["error"] = (
            f"{type(err).__name__}: {first} ({Path(last.filename).name}:{last.lineno})"
        )
    return result


def _errors(ours: Any, reference: Any, info: Any, seed: int) -> list[tuple[str, float]]:
    """Each output's (kind, error) on STEPS seeded random inputs in turn: the first step's
    that fails, or the last one's."""
    from ..frontend.tflite_import import random_inputs

    errors: list[tuple[str, float]] = []
    for step in range(STEPS):
        inputs = random_inputs(info, seed + step)
        errors = [output_error(a, b) for a, b in zip(ours(inputs), reference(inputs))]
        if not all(_passes(k, e) for k, e in errors):
            break
    return errors


def _tuned(model: Any, board: Board, folder: Path, per_task: int) -> Any:
    """Records of a quick tune of `model`: `per_task` candidates for each of its tasks (no
    final re-measurement: any schedule will do)."""
    from ..records import RecordStore
    from ..search import tune_model
    from ..tasks import for_model

    store = RecordStore(folder, model.info, board)
    trials = per_task * len(for_model(model, board))
    quiet = {"on_batch": lambda _: None, "final_top": 0}
    tune_model(model, board, store, trials, seed=0, per_round=per_task, **quiet)
    return store
