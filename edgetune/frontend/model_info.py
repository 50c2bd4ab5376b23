"""Model metadata that travels with records and built artifacts (names, shapes, quantization)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from ..quant.float_requantization import FIXED_POINT


@dataclass(frozen=True)
class TensorInfo:
    """A model input or output as TFLite declares it."""

    name: str
    shape: tuple[int, ...]
    dtype: str
    scale: float | None = None
    zero_point: int | None = None

    @property
    def quantized(self) -> bool:
        return self.scale is not None

    def describe(self) -> str:
        text = f"{self.name} {self.dtype}[{'x'.join(map(str, self.shape))}]"
        if self.quantized:
            text += f" (scale={self.scale:.6g}, zero_point={self.zero_point})"
        return text


@dataclass(frozen=True)
class ModelInfo:
    """What edgetune knows about a TFLite model without compiling it."""

    name: str
    sha256: str
    inputs: tuple[TensorInfo, ...]
    outputs: tuple[TensorInfo, ...]
    ops: dict[str, int] = field(default_factory=dict)
    quantization: str = "float"  # float | int8 | uint8 | dynamic-range | int16
    # how the integer convs requantize (quant.float_requantization): fixed-point | fp32
    requantization: str = FIXED_POINT
    # resource variables: trailing inputs and outputs of the compiled function, carried from
    # one call to the next, and their initial values (nested lists)
    states: tuple[TensorInfo, ...] = ()
    state_values: tuple[Any, ...] = ()

    @property
    def quantized(self) -> bool:
        return self.quantization in ("int8", "uint8")

    @property
    def arithmetic(self) -> str:
        """How the model computes, for progress lines ("" for a float model)."""
        if self.quantized:
            return f"{self.requantization} requantization"
        if self.quantization == "dynamic-range":
            return "dynamic-range: int8 weights dequantized, float arithmetic"
        return ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ModelInfo:
        def tensors(items):
            return tuple(TensorInfo(**{**t, "shape": tuple(t["shape"])}) for t in items)

        return cls(
            name=data["name"],
            sha256=data["sha256"],
            inputs=tensors(data["inputs"]),
            outputs=tensors(data["outputs"]),
            ops=dict(data.get("ops", {})),
            quantization=data.get("quantization", "float"),
            requantization=data.get("requantization", FIXED_POINT),
            states=tensors(data.get("states", [])),
            state_values=tuple(data.get("state_values", [])),
        )

    def initial_states(self) -> list[np.ndarray]:
        """Fresh copies of the states' initial values."""
        return [
            np.array(v, t.dtype).reshape(t.shape) for t, v in zip(self.states, self.state_values)
        ]
