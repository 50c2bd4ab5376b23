"""MediaPipe's custom TFLite ops, as compositions of Relax ops.

MediaPipe models (selfie segmentation, hair segmentation, ...) call ops registered by
MediaPipe's own op resolver (mediapipe/util/tflite/operations). They reach the converter as
`CUSTOM:Name`, edgetune's spelling of a custom op.
"""

from __future__ import annotations

from typing import Any

import numpy as np

CUSTOM_OPS = (
    "Convolution2DTransposeBias",
    "Landmarks2TransformMatrix",
    "TransformLandmarks",
    "TransformTensorBilinear",
)


def custom_options(raw: bytes) -> dict[str, Any]:
    """A MediaPipe custom op's options (but Convolution2DTransposeBias's raw C struct): a
    FlexBuffer map, {} when the op has none."""
    from flatbuffers import flexbuffers

    return flexbuffers.Loads(raw) if raw else {}


def _options(op: Any) -> dict[str, Any]:
    return custom_options(op.CustomOptionsAsNumpy().tobytes() if op.CustomOptionsLength() else b"")


def _const(values: Any, dtype: str = "float32") -> Any:
    from tvm import relax

    return relax.const(np.asarray(values, dtype))


def _pick(expr: Any, indices: Any, axis: int = 0) -> Any:
    """expr's entries at `indices` (a list, kept as an axis) along `axis` (constant indices in
    range: "clip" costs nothing and spares TVM's warning about "fast")."""
    from tvm import relax

    return relax.op.take(expr, _const(indices, "int64"), axis=axis, mode="clip")


def _bilinear_te(data: Any, matrix: Any, out_h: int, out_w: int) -> Any:
    """TransformTensorBilinear v2 as a TE compute: output pixel (x, y) read bilinearly at the
    matrix's (x, y), pixel centres aligned (half-pixel shifts folded into the translation); 0
    where that point is outside [0, W-1] x [0, H-1]; corners outside the image read 0."""
    from tvm import te

    from ...tvm_api import tirx as tir

    _, h, w, c = (int(d) for d in data.shape)
    f32, half, one = "float32", tir.const(0.5, "float32"), tir.const(1.0, "float32")

    def corner(y: Any, x: Any, ch: Any) -> Any:
        inside = tir.all(y >= 0, x >= 0, y < h, x < w)
        value = data[0, tir.max(tir.min(y, h - 1), 0), tir.max(tir.min(x, w - 1), 0), ch]
        return tir.if_then_else(inside, value, tir.const(0, f32))

    def pixel(_n: Any, oy: Any, ox: Any, ch: Any) -> Any:
        fx, fy = ox.astype(f32), oy.astype(f32)
        tx, ty = (
            matrix[0, r, 0] * fx
            + matrix[0, r, 1] * fy
            + (matrix[0, r, 3] + matrix[0, r, 0] * half + matrix[0, r, 1] * half - half)
            for r in (0, 1)
        )
        x0, y0 = tir.floor(tx), tir.floor(ty)
        ix, iy, rx, ry = x0.astype("int32"), y0.astype("int32"), tx - x0, ty - y0
        upper = (one - rx) * corner(iy, ix, ch) + rx * corner(iy, ix + 1, ch)
        lower = (one - rx) * corner(iy + 1, ix, ch) + rx * corner(iy + 1, ix + 1, ch)
        outside = tir.any(tx < 0, tx > w - 1, ty < 0, ty > h - 1)
        return tir.if_then_else(outside, tir.const(0, f32), ry * lower + (one - ry) * upper)

    return te.compute((1, out_h, out_w, c), pixel, name="transform_tensor_bilinear")


class MediaPipeOps:
    """Mixin for OperatorConverter: MediaPipe's custom ops by `CUSTOM:Name`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.convert_map |= {
            "CUSTOM:Convolution2DTransposeBias": self.convert_transpose_conv_bias,
            "CUSTOM:Landmarks2TransformMatrix": self.convert_landmarks_to_transform_matrix,
            "CUSTOM:TransformLandmarks": self.convert_transform_landmarks,
            "CUSTOM:TransformTensorBilinear": self.convert_transform_tensor_bilinear,
        }

    def get_op_code_str(self, op: Any) -> str:
        from tflite.BuiltinOperator import BuiltinOperator

        code = self.model.OperatorCodes(op.OpcodeIndex())
        if max(code.BuiltinCode(), code.DeprecatedBuiltinCode()) == BuiltinOperator.CUSTOM:
            name = (code.CustomCode() or b"").decode()
            if name in CUSTOM_OPS:
                return f"CUSTOM:{name}"
        return super().get_op_code_str(op)

    def _version_2(self, op: Any) -> None:
        """Landmarks2TransformMatrix, TransformLandmarks and TransformTensorBilinear are
        implemented as MediaPipe's version 2 (version 1 has other shapes and options)."""
        import tvm

        code = self.model.OperatorCodes(op.OpcodeIndex())
        if code.Version() != 2:
            raise tvm.error.OpNotImplemented(
                f"CUSTOM:{code.CustomCode().decode()} version {code.Version()}: edgetune "
                "implements MediaPipe's version 2 of it only"
            )

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

    def convert_landmarks_to_transform_matrix(self, op: Any) -> Any:
        """Landmarks2TransformMatrix v2 ([1, N, 3] -> [1, 4, 4]; landmarks_to_transform_matrix.cc):
        rotation r = target - atan2(right - left), taken as cos/sin of the normalised
        left -> right vector (no atan2 needed); the `subset_idxs` landmarks rotated by r give
        the crop's size and centre (rotated back); the matrix is
        shift(centre) . rot(-r) . scale(scale_x * width / out_w, ...) . shift(-out_w/2, -out_h/2)
        written out entry by entry."""
        from tvm import relax

        self._version_2(op)
        (landmarks,) = self.get_input_tensors(op)
        o = _options(op)
        n = int(landmarks.tensor.ShapeAsNumpy()[1])
        lm = relax.op.reshape(self.get_tensor_expr(landmarks), (n, 3))
        xs, ys = (relax.op.reshape(_pick(lm, [k], axis=1), (n,)) for k in (0, 1))
        left, right = [o["left_rotation_idx"]], [o["right_rotation_idx"]]
        dx = relax.op.subtract(_pick(xs, right), _pick(xs, left))
        dy = relax.op.subtract(_pick(ys, right), _pick(ys, left))
        length = relax.op.sqrt(relax.op.add(relax.op.multiply(dx, dx), relax.op.multiply(dy, dy)))
        some = relax.op.greater(length, _const(0.0))  # atan2(0, 0) = 0: cos 1, sin 0
        cos_a = relax.op.where(some, relax.op.divide(dx, length), _const(1.0))
        sin_a = relax.op.where(some, relax.op.divide(dy, length), _const(0.0))
        ct, st = np.cos(o["target_rotation_radians"]), np.sin(o["target_rotation_radians"])
        mul, add, sub = relax.op.multiply, relax.op.add, relax.op.subtract
        cos_r = add(mul(cos_a, _const(ct)), mul(sin_a, _const(st)))  # cos(target - a)
        sin_r = sub(mul(cos_a, _const(st)), mul(sin_a, _const(ct)))  # sin(target - a)
        subset = list(np.asarray(o["subset_idxs"]).reshape(-1))
        sx, sy = _pick(xs, subset), _pick(ys, subset)
        rot_x = sub(mul(cos_r, sx), mul(sin_r, sy))
        rot_y = add(mul(sin_r, sx), mul(cos_r, sy))
        low_x, high_x = relax.op.min(rot_x, keepdims=True), relax.op.max(rot_x, keepdims=True)
        low_y, high_y = relax.op.min(rot_y, keepdims=True), relax.op.max(rot_y, keepdims=True)
        mid_x = relax.op.divide(add(low_x, high_x), _const(2.0))
        mid_y = relax.op.divide(add(low_y, high_y), _const(2.0))
        centre_x = add(mul(cos_r, mid_x), mul(sin_r, mid_y))  # rot(-r) . mid
        centre_y = sub(mul(cos_r, mid_y), mul(sin_r, mid_x))
        out_w, out_h = o["output_width"], o["output_height"]
        scale_x = mul(sub(high_x, low_x), _const(o["scale_x"] / out_w))
        scale_y = mul(sub(high_y, low_y), _const(o["scale_y"] / out_h))
        a00, a01 = mul(cos_r, scale_x), mul(sin_r, scale_y)
        a10, a11 = relax.op.negative(mul(sin_r, scale_x)), mul(cos_r, scale_y)
        shift_x, shift_y = _const(-out_w / 2.0), _const(-out_h / 2.0)
        t0 = add(add(mul(a00, shift_x), mul(a01, shift_y)), centre_x)
        t1 = add(add(mul(a10, shift_x), mul(a11, shift_y)), centre_y)
        zero, unit = _const([0.0]), _const([1.0])
        entries = [a00, a01, zero, t0, a10, a11, zero, t1]
        entries += [zero, zero, unit, zero, zero, zero, zero, unit]
        return relax.op.reshape(relax.op.concat(entries, axis=0), (1, 4, 4))

    def convert_transform_landmarks(self, op: Any) -> Any:
        """TransformLandmarks v2 ([1, N, D] landmarks, [1, 4, 4] matrix; transform_landmarks.cc):
        x, y through the matrix's first two rows (z taken as 0, w as 1), z unchanged."""
        from tvm import relax

        self._version_2(op)
        landmarks, matrix = self.get_input_tensors(op)
        depth = int(landmarks.tensor.ShapeAsNumpy()[-1])
        lm = self.get_tensor_expr(landmarks)
        m = relax.op.reshape(self.get_tensor_expr(matrix), (16,))
        x, y, *rest = (
            relax.op.strided_slice(lm, axes=[2], begin=[k], end=[k + 1]) for k in range(depth)
        )

        def row(r: int) -> Any:
            xy = relax.op.add(
                relax.op.multiply(_pick(m, [4 * r]), x), relax.op.multiply(_pick(m, [4 * r + 1]), y)
            )
            return relax.op.add(xy, _pick(m, [4 * r + 3]))

        return relax.op.concat([row(0), row(1), *rest], axis=2)

    def convert_transform_tensor_bilinear(self, op: Any) -> Any:
        """TransformTensorBilinear v2 ([1, H, W, C] data, [1, 4, 4] matrix -> the output
        tensor's shape; transform_tensor_bilinear.cc) as a TE compute (`_bilinear_te`)."""
        self._version_2(op)
        data, matrix = self.get_input_tensors(op)
        (out,) = self.get_output_tensors(op)
        _, out_h, out_w, _ = (int(d) for d in out.tensor.ShapeAsNumpy())
        return self.bb.emit_te(
            _bilinear_te,
            self.get_tensor_expr(data),
            self.get_tensor_expr(matrix),
            out_h,
            out_w,
            primfunc_name_hint="transform_tensor_bilinear",
        )
