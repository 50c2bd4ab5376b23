"""Data-movement ops on int8/uint8 tensors: no arithmetic, so they run on the integers as they
are (PAD pads with the input's zero point), equal to LiteRT bit for bit.

Stock TVM 0.27 refuses them in quantized models (not in its `_SUPPORTED_QUANTIZED_OPS`); its
converters already move the integer tensor unchanged, so allowing them is enough once the
input and output share their quantization (checked here, as LiteRT requires).
"""

from __future__ import annotations

from typing import Any

QUANTIZED_MOVES = frozenset({
    "BATCH_TO_SPACE_ND", "PAD", "PADV2", "SHAPE", "SPACE_TO_BATCH_ND", "SPLIT", "SPLIT_V",
    "STRIDED_SLICE",
})  # fmt: skip


class QuantizedDataMovement:
    """Mixin for OperatorConverter: the ops of QUANTIZED_MOVES keep input quantization."""

    def _same_quantization(self, op: Any, name: str) -> None:
        import tvm

        data = self.get_input_tensors(op)[0 if name != "SPLIT" else 1]
        for out in self.get_output_tensors(op):
            if data.qnn_params and not self.has_same_qnn_params(data, out):
                raise tvm.error.OpNotImplemented(
                    f"quantized {name} with different input and output scale/zero point"
                )

    def convert_strided_slice(self, op: Any) -> Any:
        self._same_quantization(op, "STRIDED_SLICE")
        return super().convert_strided_slice(op)

    def convert_split_v(self, op: Any) -> Any:
        self._same_quantization(op, "SPLIT_V")
        return super().convert_split_v(op)

    def convert_split(self, op: Any) -> Any:
        self._same_quantization(op, "SPLIT")
        return super().convert_split(op)

    def convert_space_to_batch_nd(self, op: Any) -> Any:
        self._same_quantization(op, "SPACE_TO_BATCH_ND")
        return super().convert_space_to_batch_nd(op)

    def convert_batch_to_space_nd(self, op: Any) -> Any:
        self._same_quantization(op, "BATCH_TO_SPACE_ND")
        return super().convert_batch_to_space_nd(op)
