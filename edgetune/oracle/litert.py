"""LiteRT (ai-edge-litert) interpreter: the numerical oracle and the latency baseline."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from ..errors import MissingPackage, ModelError, first_line
from ..runtime.timing import Latency, time_calls

NOT_INSTALLED = (
    "LiteRT (ai-edge-litert) is not installed: install edgetune's [litert] extra (from a "
    "checkout: pip install -c constraints.txt -e '.[litert]')"
)


class LiteRTModel:
    """A TFLite model (a file, or the flatbuffer's bytes) in LiteRT's interpreter, its inputs
    resized to `input_shapes` where given (dynamic dimensions). Kernels: XNNPACK (the default,
    what LiteRT users run), the optimized builtin ones (`builtin_kernels`), or TFLite's
    reference kernels (`reference_kernels`: BUILTIN_REF, plain C++, integer arithmetic as
    specified; XNNPACK's and the optimized kernels' int8 differ from them by up to ~20 LSB on
    MobileNetV2)."""

    def __init__(
        self,
        path: str | Path | bytes,
        threads: int,
        builtin_kernels: bool = False,
        input_shapes: list[tuple[int, ...]] | None = None,
        reference_kernels: bool = False,
    ):
        try:
            from ai_edge_litert.interpreter import Interpreter, OpResolverType
        except ImportError:
            raise MissingPackage(NOT_INSTALLED) from None
        resolver = OpResolverType.AUTO
        if builtin_kernels:
            resolver = OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
        if reference_kernels:
            resolver = OpResolverType.BUILTIN_REF
        source = {"model_content": path} if isinstance(path, bytes) else {"model_path": str(path)}
        try:
            with _info_lines_dropped():
                self.interpreter = Interpreter(
                    **source, num_threads=threads, experimental_op_resolver_type=resolver
                )
                for detail, shape in zip(self.interpreter.get_input_details(), input_shapes or []):
                    if tuple(detail["shape"]) != tuple(shape):
                        self.interpreter.resize_tensor_input(detail["index"], list(shape))
                self.interpreter.allocate_tensors()
        except (RuntimeError, ValueError) as err:  # e.g. a custom op LiteRT has no kernel for
            raise ModelError(f"LiteRT cannot run the model: {first_line(err, chars=160)}") from None
        self.inputs = self.interpreter.get_input_details()
        self.outputs = self.interpreter.get_output_details()

    def _set(self, inputs: list[np.ndarray]) -> None:
        for detail, x in zip(self.inputs, inputs):
            self.interpreter.set_tensor(detail["index"], x)

    def __call__(self, inputs: list[np.ndarray]) -> list[np.ndarray]:
        self._set(inputs)
        self._invoke()
        return [self.interpreter.get_tensor(d["index"]).copy() for d in self.outputs]

    def bench(self, inputs: list[np.ndarray], repeat: int) -> Latency:
        self._set(inputs)
        self._invoke()  # a model LiteRT cannot run fails here, with a clear message
        return time_calls(self.interpreter.invoke, repeat)

    def _invoke(self) -> None:
        try:
            self.interpreter.invoke()
        except RuntimeError as err:  # e.g. a loop whose shapes are fixed to other inputs
            shapes = ", ".join(f"{d['name']} {d['shape'].tolist()}" for d in self.inputs)
            raise ModelError(
                f"LiteRT cannot run the model on inputs {shapes}: {first_line(err, chars=200)}"
            ) from None


@contextlib.contextmanager
def _info_lines_dropped() -> Iterator[None]:
    """LiteRT's C++ logs INFO lines on stderr ("Created TensorFlow Lite XNNPACK delegate for
    CPU.") that no setting silences: what it writes meanwhile is held back, and all but its INFO
    lines written afterwards (its warnings and errors still reach the user)."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            held.seek(0)
            lines = held.read().decode(errors="replace").splitlines(keepends=True)
            if kept := [line for line in lines if not line.startswith("INFO: ")]:
                sys.stderr.write("".join(kept))
                sys.stderr.flush()
