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
        try:
            array = np.load(path, allow_pickle=False)
        except FileNotFoundError:
            raise InputError(f"input file not found: {path}") from None
        except ValueError as err:
            raise InputError(f"{path}: not a .npy array ({err})") from None
        if tuple(array.shape) != tuple(tensor.shape) or str(array.dtype) != tensor.dtype:
            raise InputError(
                f"{path}: {array.dtype}[{'x'.join(map(str, array.shape))}] does not match model "
                f"input {tensor.describe()}"
            )
        arrays.append(np.ascontiguousarray(array))
    return arrays


def save_outputs(path: str | Path, outputs: list[np.ndarray]) -> None:
    """One output: a .npy file; several: an .npz with output_0, output_1, ..."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if len(outputs) == 1:
        np.save(path, outputs[0])
    else:
        np.savez(path, **{f"output_{i}": o for i, o in enumerate(outputs)})
