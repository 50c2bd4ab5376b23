"""Model inputs and outputs as .npy files, checked against the model's declared tensors."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import InputError
from ..frontend import ModelInfo
from ..frontend.tflite_import import random_inputs


def load_inputs(info: ModelInfo, paths: list[str] | None, seed: int = 0) -> list[np.ndarray]:
    """Arrays for each model input from .npy files, or deterministic random ones if none given."""
    if not paths:
        return random_inputs(info, seed)
    if len(paths) != len(info.inputs):
        raise InputError(f"model has {len(info.inputs)} input(s), got {len(paths)} --input file(s)")
    arrays = []
    for path, tensor in zip(paths, info.inputs):
        array = _read_npy(Path(path))
        if tuple(array.shape) != tuple(tensor.shape) or str(array.dtype) != tensor.dtype:
            raise InputError(
                f"{path}: {array.dtype}[{'x'.join(map(str, array.shape))}] does not match model "
                f"input {tensor.describe()}"
            )
        arrays.append(np.ascontiguousarray(array))
    return arrays


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


def save_outputs(path: str | Path, outputs: list[np.ndarray]) -> None:
    """One output: a .npy file; several: an .npz with output_0, output_1, ..."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if len(outputs) == 1:
        np.save(path, outputs[0])
    else:
        np.savez(path, **{f"output_{i}": o for i, o in enumerate(outputs)})
