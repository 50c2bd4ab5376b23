"""Converters of TVM 0.27's TFLite importer whose output cannot fuse into the producing kernel,
replaced by element-wise forms that do.

Each method overrides the stock converter of the same name; the result equals LiteRT's
(tests/test_frontend_converters.py).
"""

from __future__ import annotations

from typing import Any


class FusableForms:
    """Mixin for OperatorConverter: PRELU."""

    def convert_prelu(self, op: Any) -> Any:
        """PRELU as max(x, 0) + alpha * min(x, 0), alpha broadcast as TFLite broadcasts it.
        Stock 0.27 broadcasts alpha to the whole input, flattens both and reshapes back: the
        reshapes keep PReLU out of the conv before it (an injective kernel of its own, reading
        a full-size alpha constant; MediaPipe's iris model: 53 of its 142 kernel calls)."""
        from tvm import relax

        if self.is_quantized(op):
            return super().convert_prelu(op)
        data, alpha = self.get_input_tensors(op)
        x, slope = self.get_tensor_expr(data), self.get_tensor_expr(alpha)
        zero = relax.const(0.0, self.get_tensor_type_str(data.tensor.Type()))
        negative = relax.op.multiply(slope, relax.op.minimum(x, zero))
        return relax.op.add(relax.op.maximum(x, zero), negative)
