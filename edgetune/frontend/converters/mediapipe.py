"""MediaPipe's custom TFLite ops, as compositions of Relax ops.

MediaPipe models (selfie segmentation, hair segmentation, ...) call ops registered by
MediaPipe's own op resolver (mediapipe/util/tflite/operations). They reach the converter as
`CUSTOM:Name`, edgetune's spelling of a custom op.
"""

from __future__ import annotations

from typing import Any

CUSTOM_OPS = ("Convolution2DTransposeBias",)


class MediaPipeOps:
    """Mixin for OperatorConverter: MediaPipe's custom ops by `CUSTOM:Name`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.convert_map["CUSTOM:Convolution2DTransposeBias"] = self.convert_transpose_conv_bias

    def get_op_code_str(self, op: Any) -> str:
        from tflite.BuiltinOperator import BuiltinOperator

        code = self.model.OperatorCodes(op.OpcodeIndex())
        if max(code.BuiltinCode(), code.DeprecatedBuiltinCode()) == BuiltinOperator.CUSTOM:
            name = (code.CustomCode() or b"").decode()
            if name in CUSTOM_OPS:
                return f"CUSTOM:{name}"
        return super().get_op_code_str(op)

    def convert_transpose_conv_bias(self, op: Any) -> Any:
        """Convolution2DTransposeBias (mediapipe/util/tflite/operations/transpose_conv_bias.cc):
        a transposed conv (weights OHWI) plus a bias. Options: the raw C struct {int32 padding
        (1 SAME, 2 VALID), int32 stride_width, int32 stride_height}. Its output size and
        padding are its own (not TRANSPOSE_CONV's): SAME pads k - (in - 1) % s - 1 (at least
        0), half (rounded down) before, and the output is s * (in - 1) + k - that padding."""
        from tvm import relax

        data, weight, bias = self.get_input_tensors(op)
        padding, stride_w, stride_h = (int(v) for v in op.CustomOptionsAsNumpy().view("<i4")[:3])
        _, in_h, in_w, _ = (int(d) for d in data.tensor.ShapeAsNumpy())
        _, k_h, k_w, _ = (int(d) for d in weight.tensor.ShapeAsNumpy())
        same = padding == 1
        pad_h = max(0, k_h - (in_h - 1) % stride_h - 1) if same else 0
        pad_w = max(0, k_w - (in_w - 1) % stride_w - 1) if same else 0
        x = relax.op.permute_dims(self.get_tensor_expr(data), [0, 3, 1, 2])
        w = relax.op.permute_dims(self.get_tensor_expr(weight), [3, 0, 1, 2])  # OHWI -> IOHW
        y = relax.op.nn.conv2d_transpose(
            x,
            w,
            strides=(stride_h, stride_w),
            padding=(pad_h // 2, pad_w // 2, pad_h - pad_h // 2, pad_w - pad_w // 2),
        )
        y = relax.op.permute_dims(y, [0, 2, 3, 1])
        return relax.op.add(y, self.get_tensor_expr(bias))
