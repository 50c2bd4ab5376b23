"""Converters of TVM 0.27's TFLite importer that compute something else than LiteRT, replaced.

Each of these runs without an error in stock 0.27 and gives other numbers than LiteRT: an
option it ignores (SOFTMAX's beta, GELU's approximate), a fused activation LiteRT's kernels do
not apply, or axes Relax refuses where TFLite accepts them
(tests/test_frontend_semantics.py compares each with LiteRT).
"""

from __future__ import annotations

import math
from typing import Any

# ops whose fused activation is a clamp in LiteRT (`CalculateActivationRange`): RELU, RELU6 and
# RELU_N1_TO_1 clamp, any other (TANH, SIGN_BIT) leaves the values as they are. Recurrent ops
# (LSTM, RNN, SVDF) apply theirs as a function: not listed.
CLAMPING_OPS = frozenset({
    "ADD", "AVERAGE_POOL_2D", "CONCATENATION", "CONV_2D", "CONV_3D", "CONV_3D_TRANSPOSE",
    "DEPTHWISE_CONV_2D", "DIV", "FULLY_CONNECTED", "L2_NORMALIZATION", "L2_POOL_2D",
    "MAX_POOL_2D", "MUL", "SUB", "TRANSPOSE_CONV",
})  # fmt: skip


class LiteRTSemantics:
    """Mixin for OperatorConverter: SOFTMAX's beta, GELU's tanh approximation, fused
    activations as LiteRT's clamping kernels apply them, reductions over repeated axes."""

    def convert_softmax(self, op: Any) -> Any:
        """SOFTMAX computes softmax(beta * x); stock 0.27 ignores beta (softmax(x))."""
        from tflite.SoftmaxOptions import SoftmaxOptions
        from tvm import relax

        beta = float(self._get_builtin_options(op, SoftmaxOptions).Beta())
        if beta == 1.0:
            return super().convert_softmax(op)
        (data,) = self.get_input_tensors(op)
        (output,) = self.get_output_tensors(op)
        x = self.get_tensor_expr(data)
        if data.qnn_params:
            x = self.dequantize(x, data)
        out = relax.op.nn.softmax(x * relax.const(beta, "float32"), axis=-1)
        return self.quantize(out, output) if output.qnn_params else out

    def convert_gelu(self, op: Any) -> Any:
        """GELU with `approximate` is LiteRT's tanh form, 0.5 x (1 + tanh(sqrt(2/pi) (x +
        0.044715 x^3))); stock 0.27 computes the erf form for both (4.7e-4 apart at x = 1)."""
        from tflite.GeluOptions import GeluOptions
        from tvm import relax

        given = op.BuiltinOptions() is not None  # optional: exact GELU without them
        approximate = given and self._get_builtin_options(op, GeluOptions).Approximate()
        if self.is_quantized(op) or not approximate:
            return super().convert_gelu(op)
        (data,) = self.get_input_tensors(op)
        x = self.get_tensor_expr(data)
        dtype = self.get_tensor_type_str(data.tensor.Type())

        def const(value: float) -> Any:
            return relax.const(value, dtype)

        inner = const(math.sqrt(2 / math.pi)) * (x + const(0.044715) * x * x * x)
        return const(0.5) * x * (const(1.0) + relax.op.tanh(inner))

    def convert_fused_activation_function(self, in_expr: Any, fused_activation_fn: int) -> Any:
        """A TANH or SIGN_BIT fused into a clamping op (CLAMPING_OPS) changes nothing, as in
        LiteRT's kernels; stock 0.27 applied tanh after a conv."""
        from tflite.ActivationFunctionType import ActivationFunctionType as Act

        clamping = self.current_op_name in CLAMPING_OPS  # set by OperatorContext
        if clamping and fused_activation_fn in (Act.TANH, Act.SIGN_BIT):
            return in_expr
        return super().convert_fused_activation_function(in_expr, fused_activation_fn)

    def _convert_reduce(self, relax_op: Any, op: Any) -> Any:
        """Reductions over a repeated axis ([2, -1] of a rank-3 tensor): TFLite reduces each
        axis once, Relax refuses repeated axes."""
        rank = len(self.get_input_tensors(op)[0].tensor.ShapeAsNumpy())

        def once_per_axis(data: Any, axis: Any, keepdims: bool) -> Any:
            return relax_op(data, sorted({int(a) % rank for a in axis}) if rank else axis, keepdims)

        return super()._convert_reduce(once_per_axis, op)
