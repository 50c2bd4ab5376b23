"""MediaPipe's custom TFLite ops, as compositions of Relax ops.

MediaPipe models (selfie segmentation, hair segmentation, ...) call ops registered by
MediaPipe's own op resolver (mediapipe/util/tflite/operations). They reach the converter as
`CUSTOM:Name`, edgetune's spelling of a custom op.
"""

from __future__ import annotations

from typing import Any

import numpy as np

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
        """Convolution2DTransposeBias: TRANSPOSE_CONV (weights OHWI, TFLite's SAME/VALID
        padding, output size from the output tensor) plus a bias. Options: the raw C struct
        {int32 padding (1 SAME, 2 VALID), int32 stride_width, int32 stride_height}."""
        from tvm import relax

        data, weight, bias = self.get_input_tensors(op)
        (output,) = self.get_output_tensors(op)
        _, stride_w, stride_h = (int(v) for v in op.CustomOptionsAsNumpy().view("<i4")[:3])
        _, in_h, in_w, _ = (int(d) for d in data.tensor.ShapeAsNumpy())
        _, k_h, k_w, _ = (int(d) for d in weight.tensor.ShapeAsNumpy())
        _, out_h, out_w, _ = (int(d) for d in output.tensor.ShapeAsNumpy())
        pads, extra = zip(
            *(
                _padding(i, k, s, o)
                for i, k, s, o in ((in_h, k_h, stride_h, out_h), (in_w, k_w, stride_w, out_w))
            )
        )
        x = relax.op.permute_dims(self.get_tensor_expr(data), [0, 3, 1, 2])
        w = relax.op.permute_dims(self.get_tensor_expr(weight), [3, 0, 1, 2])  # OHWI -> IOHW
        y = relax.op.nn.conv2d_transpose(
            x,
            w,
            strides=(stride_h, stride_w),
            padding=(pads[0][0], pads[1][0], pads[0][1], pads[1][1]),
            output_padding=extra,
        )
        y = relax.op.permute_dims(y, [0, 2, 3, 1])
        return relax.op.add(y, self.get_tensor_expr(bias))


def _padding(size: int, kernel: int, stride: int, out: int) -> tuple[tuple[int, int], int]:
    """(before, after) cropping and output padding that give `out` from a transposed conv,
    split as TFLite does (the odd one at the end)."""
    total = (size - 1) * stride + kernel - out
    crop = max(total, 0)
    return (crop // 2, crop - crop // 2), int(np.clip(-total, 0, stride - 1))
