"""MediaPipe's custom TFLite ops, as compositions of Relax ops and TE computes (the pooling
pair in `mediapipe_pooling`).

MediaPipe models (selfie segmentation, hair segmentation, ...) call ops registered by
MediaPipe's own op resolver (mediapipe/util/tflite/operations). They reach the converter as
`CUSTOM:Name`, edgetune's spelling of a custom op.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .mediapipe_pooling import PoolParams, max_pool_argmax_te, unpool_targets_te

# MediaPipe custom op -> the versions edgetune computes (Landmarks2TransformMatrix v1 is
# another algorithm: atan, landmark ranges and image sizes in its options; docs/models.md);
# TransformTensor is TransformTensorBilinear's version 1 name
VERSIONS = {
    "Convolution2DTransposeBias": (1,),
    "Landmarks2TransformMatrix": (2,),
    "MaxPoolingWithArgmax2D": (1,),
    "MaxUnpooling2D": (1,),
    "TransformLandmarks": (1, 2),
    "TransformTensor": (1, 2),
    "TransformTensorBilinear": (1, 2),
}


def custom_options(raw: bytes) -> dict[str, Any]:
    """A MediaPipe custom op's options (but the raw C structs of Convolution2DTransposeBias
    and the pooling ops): a FlexBuffer map, {} when the op has none."""
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


def _bilinear_te(data: Any, matrix: Any, out_h: int, out_w: int, centres: bool) -> Any:
    """TransformTensorBilinear as a TE compute: output pixel (x, y) read bilinearly at the
    matrix's (x, y), with `centres` (version 2) pixel centres aligned (half-pixel shifts folded
    into the translation); 0 where that point is outside [0, W-1] x [0, H-1]; corners outside
    the image read 0."""
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

        def shift(r: int) -> Any:
            if not centres:
                return matrix[0, r, 3]
            return matrix[0, r, 3] + matrix[0, r, 0] * half + matrix[0, r, 1] * half - half

        tx, ty = (matrix[0, r, 0] * fx + matrix[0, r, 1] * fy + shift(r) for r in (0, 1))
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
            "CUSTOM:MaxPoolingWithArgmax2D": self.convert_max_pool_argmax,
            "CUSTOM:MaxUnpooling2D": self.convert_max_unpooling,
            "CUSTOM:TransformLandmarks": self.convert_transform_landmarks,
            "CUSTOM:TransformTensor": self.convert_transform_tensor_bilinear,
            "CUSTOM:TransformTensorBilinear": self.convert_transform_tensor_bilinear,
        }

    def get_op_code_str(self, op: Any) -> str:
        from tflite.BuiltinOperator import BuiltinOperator

        code = self.model.OperatorCodes(op.OpcodeIndex())
        if max(code.BuiltinCode(), code.DeprecatedBuiltinCode()) == BuiltinOperator.CUSTOM:
            name = (code.CustomCode() or b"").decode()
            if name in VERSIONS:
                return f"CUSTOM:{name}"
        return super().get_op_code_str(op)

    def _version(self, op: Any) -> int:
        """The op's version, when edgetune computes it (VERSIONS); else a one-line refusal."""
        import tvm

        code = self.model.OperatorCodes(op.OpcodeIndex())
        name, version = code.CustomCode().decode(), code.Version()
        if version not in VERSIONS[name]:
            implemented = " and ".join(str(v) for v in VERSIONS[name])
            plural = "s" if len(VERSIONS[name]) > 1 else ""
            raise tvm.error.OpNotImplemented(
                f"CUSTOM:{name} version {version}: edgetune implements MediaPipe's version"
                f"{plural} {implemented} of it only"
            )
        return version

    def _pool_params(self, op: Any) -> PoolParams:
        import tvm

        code = self.model.OperatorCodes(op.OpcodeIndex())
        raw = op.CustomOptionsAsNumpy().tobytes() if op.CustomOptionsLength() else b""
        try:
            return PoolParams.from_raw(raw, f"CUSTOM:{code.CustomCode().decode()}")
        except ValueError as err:
            raise tvm.error.OpNotImplemented(str(err)) from None

    def convert_transpose_conv_bias(self, op: Any) -> Any:
        """Convolution2DTransposeBias (mediapipe/util/tflite/operations/transpose_conv_bias.cc):
        a transposed conv (weights OHWI) plus a bias. Options: the raw C struct {int32 padding
        (1 SAME, 2 VALID), int32 stride_width, int32 stride_height}. Its output size and
        padding are its own (not TRANSPOSE_CONV's): SAME pads k - (in - 1) % s - 1 (at least
        0), half (rounded down) before, and the output is s * (in - 1) + k - that padding."""
        from tvm import relax

        self._version(op)
        data, weight, bias = self.get_input_tensors(op)
        padding, stride_w, stride_h = (int(v) for v in op.CustomOptionsAsNumpy().view("<i4")[:3])
        _, in_h, in_w, _ = (int(d) for d in data.tensor.ShapeAsNumpy())
        _, k_h, k_w, _ = (int(d) for d in weight.tensor.ShapeAsNumpy())
        same = padding == 1
        pad_h = max(0, k_h - (in_h - 1) % stride_h - 1) if same else 0
        pad_w = max(0, k_w - (in_w - 1) % stride_w - 1) if same else 0
        w = relax.op.permute_dims(self.get_tensor_expr(weight), [3, 0, 1, 2])  # OHWI -> IOHW
        y = relax.op.nn.conv2d_transpose(
            self.get_tensor_expr(data),
            w,
            strides=(stride_h, stride_w),
            padding=(pad_h // 2, pad_w // 2, pad_h - pad_h // 2, pad_w - pad_w // 2),
            data_layout="NHWC",
            kernel_layout="IOHW",
        )
        return relax.op.add(y, self.get_tensor_expr(bias))

    def convert_landmarks_to_transform_matrix(self, op: Any) -> Any:
        """Landmarks2TransformMatrix v2 ([1, N, 3] -> [1, 4, 4]; landmarks_to_transform_matrix.cc):
        rotation r = target - atan2(right - left), taken as cos/sin of the normalised
        left -> right vector (no atan2 needed); the `subset_idxs` landmarks rotated by r give
        the crop's size and centre (rotated back); the matrix is
        shift(centre) . rot(-r) . scale(scale_x * width / out_w, ...) . shift(-out_w/2, -out_h/2)
        written out entry by entry."""
        from tvm import relax

        self._version(op)
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
        """TransformLandmarks (transform_landmarks.cc): x, y of every landmark through the
        matrix's first two rows (z taken as 0, w as 1), z unchanged. Version 2: [1, N, D]
        landmarks; version 1: [1, H, W, C] holding C / `dimensions` landmarks per position
        (options `dimensions`, default 3, and `scale`, default 1, which multiplies the
        translation)."""
        import tvm
        from tvm import relax

        version = self._version(op)
        landmarks, matrix = self.get_input_tensors(op)
        shape = tuple(int(d) for d in landmarks.tensor.ShapeAsNumpy())
        depth, scale = shape[-1], 1.0
        if version == 1:
            o = _options(op)
            depth, scale = int(o.get("dimensions", 3)), float(o.get("scale", 1.0))
            if depth not in (2, 3) or scale == 0 or shape[-1] % depth:
                raise tvm.error.OpNotImplemented(
                    f"CUSTOM:TransformLandmarks version 1: dimensions {depth} (2 or 3, dividing "
                    f"{shape[-1]} channels) and scale {scale} (not 0) are out of range"
                )
        lm = relax.op.reshape(self.get_tensor_expr(landmarks), (1, -1, depth))
        m = relax.op.reshape(self.get_tensor_expr(matrix), (16,))
        x, y, *rest = (
            relax.op.strided_slice(lm, axes=[2], begin=[k], end=[k + 1]) for k in range(depth)
        )

        def row(r: int) -> Any:
            xy = relax.op.add(
                relax.op.multiply(_pick(m, [4 * r]), x), relax.op.multiply(_pick(m, [4 * r + 1]), y)
            )
            shift = _pick(m, [4 * r + 3])
            if version == 1:
                shift = relax.op.multiply(shift, _const(scale))
            return relax.op.add(xy, shift)

        return relax.op.reshape(relax.op.concat([row(0), row(1), *rest], axis=2), shape)

    def convert_transform_tensor_bilinear(self, op: Any) -> Any:
        """TransformTensorBilinear ([1, H, W, C] data, [1, 4, 4] matrix -> the output tensor's
        shape; transform_tensor_bilinear.cc) as a TE compute (`_bilinear_te`). Version 1 (also
        called TransformTensor, option `mode` "bilinear") reads at the matrix's point as it is;
        version 2 aligns pixel centres."""
        import tvm

        version = self._version(op)
        if version == 1 and _options(op).get("mode", "bilinear") != "bilinear":
            raise tvm.error.OpNotImplemented(
                f"CUSTOM:TransformTensor mode {_options(op)['mode']!r}: only bilinear exists"
            )
        data, matrix = self.get_input_tensors(op)
        (out,) = self.get_output_tensors(op)
        _, out_h, out_w, _ = (int(d) for d in out.tensor.ShapeAsNumpy())
        return self.bb.emit_te(
            _bilinear_te,
            self.get_tensor_expr(data),
            self.get_tensor_expr(matrix),
            out_h,
            out_w,
            version == 2,
            primfunc_name_hint="transform_tensor_bilinear",
        )

    def convert_max_pool_argmax(self, op: Any) -> Any:
        """MaxPoolingWithArgmax2D ([N, H, W, C] -> pooled values and argmax indices, both
        float32; max_pool_argmax.cc) as TE computes (`mediapipe_pooling`)."""
        self._version(op)
        (data,) = self.get_input_tensors(op)
        p = self._pool_params(op)
        return self.bb.emit_te(
            lambda x: max_pool_argmax_te(x, p),
            self.get_tensor_expr(data),
            primfunc_name_hint="max_pool_with_argmax",
        )

    def convert_max_unpooling(self, op: Any) -> Any:
        """MaxUnpooling2D ([N, H, W, C] values and argmax indices -> [N, H * filter_h,
        W * filter_w, C]; max_unpooling.cc): zeros, then every value written at its decoded
        position in input order (a later write wins), writes outside the output skipped: a
        scatter into a flat buffer with one extra slot for those."""
        from tvm import relax

        self._version(op)
        data, indices = self.get_input_tensors(op)
        p = self._pool_params(op)
        n, h, w, c = (int(d) for d in data.tensor.ShapeAsNumpy())
        out_h, out_w = p.unpooled_size(h, w)
        targets = self.bb.emit_te(
            lambda i: unpool_targets_te(i, p, (out_h, out_w)),
            self.get_tensor_expr(indices),
            primfunc_name_hint="max_unpooling_targets",
        )
        size = n * out_h * out_w * c
        flat = relax.op.scatter_elements(
            relax.op.zeros((size + 1,), "float32"),
            relax.op.reshape(targets, (n * h * w * c,)),
            relax.op.reshape(self.get_tensor_expr(data), (n * h * w * c,)),
            axis=0,
        )
        kept = relax.op.strided_slice(flat, axes=[0], begin=[0], end=[size])
        return relax.op.reshape(kept, (n, out_h, out_w, c))
