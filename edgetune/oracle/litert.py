"""LiteRT (ai-edge-litert) interpreter: the numerical oracle and the latency baseline."""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
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


class ReferenceKernelsAbort(ModelError):
    """TFLite's reference kernels abort the process on this model (a TFLITE_CHECK in an op's
    Prepare or Eval: SOFTMAX's scaling on some input scales): checked in a child process."""


# Loads the model (argv[1]) with TFLite's reference kernels, inputs resized to argv[2] (JSON),
# and invokes it once on zeros: what may abort a process, in a process of its own.
_REFERENCE_PROBE = """
import json, sys
import numpy as np
from ai_edge_litert.interpreter import Interpreter, OpResolverType
it = Interpreter(model_path=sys.argv[1], experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
for d, shape in zip(it.get_input_details(), json.loads(sys.argv[2])):
    if list(d["shape"]) != shape:
        it.resize_tensor_input(d["index"], shape)
it.allocate_tensors()
for d in it.get_input_details():
    it.set_tensor(d["index"], np.zeros(d["shape"], d["dtype"]))
it.invoke()
"""


def _check_reference_kernels(source: str | Path | bytes, shapes: list | None) -> None:
    """ReferenceKernelsAbort if TFLite's reference kernels kill a process running the model
    (LiteRT aborts instead of raising: in this process, the command would die without a word).
    Other failures are left to the interpreter here, which says them."""
    import json

    content = source if isinstance(source, bytes) else Path(source).read_bytes()
    shapes_arg = json.dumps([list(map(int, s)) for s in shapes or []])
    key = (hashlib.sha256(content).hexdigest(), shapes_arg)
    if key not in _PROBED:
        _PROBED[key] = _reference_kernels_signal(content, shapes_arg)
    if signal_name := _PROBED[key]:
        raise ReferenceKernelsAbort(
            f"TFLite's reference kernels abort on this model ({signal_name}; LiteRT's "
            "BUILTIN_REF kernels check scales that its other kernels do not)"
        )


_PROBED: dict[tuple[str, str], str] = {}  # (model sha256, input shapes): its probe's signal


def _reference_kernels_signal(content: bytes, shapes_arg: str) -> str:
    """The signal that ended a child process running the model on TFLite's reference kernels
    ("" if none did)."""
    import signal
    import subprocess

    with tempfile.TemporaryDirectory(prefix="edgetune-litert-") as tmp:
        path = Path(tmp) / "model.tflite"
        path.write_bytes(content)
        done = subprocess.run([sys.executable, "-c", _REFERENCE_PROBE, str(path), shapes_arg],
                              capture_output=True, timeout=600)  # fmt: skip
    return signal.Signals(-done.returncode).name if done.returncode < 0 else ""


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
            _check_reference_kernels(path, input_shapes)
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
            raise ModelError(f"LiteRT cannot run the model: {_message(err)}") from None
        self.inputs = self.interpreter.get_input_details()
        self.outputs = self.interpreter.get_output_details()

    def _set(self, inputs: list[np.ndarray]) -> None:
        for detail, x in zip(self.inputs, inputs):
            self.interpreter.set_tensor(detail["index"], x)

    def __call__(self, inputs: list[np.ndarray]) -> list[np.ndarray]:
        self._set(inputs)
        self._invoke()
        return [self.interpreter.get_tensor(d["index"]).copy() for d in self.outputs]

    def bench(self, inputs: list[np.ndarray], repeat: int, min_seconds: float = 0.0) -> Latency:
        self._set(inputs)
        self._invoke()  # a model LiteRT cannot run fails here, with a clear message
        return time_calls(self.interpreter.invoke, repeat, min_seconds=min_seconds)

    def _invoke(self) -> None:
        try:
            self.interpreter.invoke()
        except RuntimeError as err:  # e.g. a loop whose shapes are fixed to other inputs
            shapes = ", ".join(f"{d['name']} {d['shape'].tolist()}" for d in self.inputs)
            raise ModelError(
                f"LiteRT cannot run the model on inputs {shapes}: {first_line(err, chars=200)}"
            ) from None


def _message(err: Exception) -> str:
    """LiteRT's error, its reports apart: it runs them together ("... XNNPACK runtimeNode number
    1 (TfLiteXNNPackDelegate) failed to prepare.")."""
    return re.sub(r"(?<=\S)(?=Node number \d)", "; ", first_line(err, chars=160))


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
