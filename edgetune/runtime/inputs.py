"""Model inputs and outputs as .npy files, checked against the model's declared tensors."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..frontend import ModelInfo, TensorInfo
from ..frontend.tflite_import import random_inputs
from ..outputs import output_file, written_whole


def load_inputs(info: ModelInfo, paths: list[str] | None, seed: int = 0) -> list[np.ndarray]:
    """Arrays for each model input from .npy files, or deterministic random ones if none given."""
    if not paths:
        return random_inputs(info, seed)
    return [_checked(a, t, p) for p, a, t in zip(paths, _read_all(info, paths), info.inputs)]


def load_input_steps(
    info: ModelInfo, paths: list[str] | None, steps: int | None = None
) -> list[list[np.ndarray]]:
    """The inputs of a sequence of invocations (`steps` of them; default 1, or what the files
    hold). Random: a new seed per step (step 0 is `load_inputs`'). Files: an array of the
    input's shape serves every step; one with an extra leading axis [N, ...] holds N steps."""
    if steps is not None and steps < 1:
        raise InputError(f"--steps must be at least 1, got {steps}")
    if not paths:
        return [random_inputs(info, seed) for seed in range(steps or 1)]
    arrays = _read_all(info, paths)
    stacked = {
        p: a.shape[0] for p, a, t in zip(paths, arrays, info.inputs) if a.ndim > len(t.shape)
    }
    counts = set(stacked.values()) | ({steps} if steps and stacked else set())
    if len(counts) > 1:
        held = ", ".join(f"{p}: {n}" for p, n in stacked.items())
        asked = f"; {steps} steps asked for" if steps else ""
        raise InputError(f"input files hold different numbers of steps ({held}{asked})")
    count = counts.pop() if counts else steps or 1
    if count < 1:
        raise InputError(f"input files hold 0 steps ({', '.join(stacked)})")
    checked = [
        _checked(a, t, p, int(p in stacked), " (nor [N, ...]: N steps of it)")
        for p, a, t in zip(paths, arrays, info.inputs)
    ]
    return [[a[i] if p in stacked else a for p, a in zip(paths, checked)] for i in range(count)]


def _read_all(info: ModelInfo, paths: list[str]) -> list[np.ndarray]:
    if len(paths) != len(info.inputs):
        raise InputError(f"model has {len(info.inputs)} input(s), got {len(paths)} --input file(s)")
    return [_read_npy(Path(p)) for p in paths]


def _checked(
    array: np.ndarray, tensor: TensorInfo, path: str, leading: int = 0, hint: str = ""
) -> np.ndarray:
    """`array` if it has `tensor`'s dtype and shape (after `leading` step axes)."""
    if tuple(array.shape[leading:]) != tuple(tensor.shape) or str(array.dtype) != tensor.dtype:
        raise InputError(
            f"{path}: {array.dtype}[{'x'.join(map(str, array.shape))}] does not match model "
            f"input {tensor.describe()}{hint}"
        )
    return np.ascontiguousarray(array)


def _read_npy(path: Path) -> np.ndarray:
    """One array from a .npy file; InputError naming the file for anything else."""
    if path.is_dir():
        raise InputError(f"{path}: is a directory, not a .npy file")
    if not path.is_file():
        raise InputError(f"input file not found: {path}")
    try:
        array = np.load(path, allow_pickle=False)
    except (ValueError, EOFError, OSError) as err:
        reason = "empty file" if path.stat().st_size == 0 else f"not a .npy array ({err})"
        if "pickle" in str(err):
            reason = "not a .npy array (no NumPy header: a text or pickle file?)"
        raise InputError(f"{path}: {reason}") from None
    if not isinstance(array, np.ndarray):  # an .npz archive
        array.close()
        raise InputError(f"{path}: an .npz archive; give one .npy file per input (--input)")
    return array


def outputs_path(path: str | Path, count: int) -> Path:
    """Where `save_outputs` writes `count` outputs given `path` (checked as an output file): one
    output to a .npy file (".npy" added as np.save does), several, or a path ending in .npz, to
    an .npz with output_0, output_1, ..."""
    path = Path(path)
    if str(path).endswith(os.sep) or path.is_dir():
        output_file(path, "--output")  # refused: a folder
    if count == 1 and path.suffix != ".npz":
        path = path if path.suffix == ".npy" else path.with_name(path.name + ".npy")
    elif path.suffix != ".npz":
        path = path.with_name(path.name + ".npz")
    return output_file(path, "--output")


def save_outputs(path: str | Path, outputs: list[np.ndarray]) -> Path:
    """Write the outputs (see `outputs_path`) whole; returns the file written."""
    path = outputs_path(path, len(outputs))
    with written_whole(path) as partial:
        if path.suffix == ".npy":
            np.save(partial, outputs[0])
        else:
            np.savez(partial, **{f"output_{i}": o for i, o in enumerate(outputs)})
    return path


def stack_steps(steps: list[list[np.ndarray]]) -> list[np.ndarray]:
    """The outputs of a sequence as written: one step's as they are; several steps' stacked,
    each output with a leading step axis [N, ...] (as --input files hold steps)."""
    if len(steps) == 1:
        return steps[0]
    return [np.stack(outputs) for outputs in zip(*steps)]
