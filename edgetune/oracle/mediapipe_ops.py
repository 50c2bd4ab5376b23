"""NumPy references for MediaPipe custom ops that have no LiteRT builtin equivalent.

Each follows MediaPipe's kernel (mediapipe/util/tflite/operations/*.cc, of the op's version)
step by step in float32, independently of edgetune's Relax compositions
(frontend/converters/mediapipe*.py), which are checked against them. Options are the op's
custom options decoded: a FlexBuffer map (`custom_options`), or for the pooling ops TFLite's
pooling struct (`PoolParams`, whose output sizes and paddings both sides share).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..frontend.converters.mediapipe import custom_options
from ..frontend.converters.mediapipe_pooling import ACTIVATION_RANGES, LOWEST, PoolParams

F32 = np.float32


@dataclass(frozen=True)
class CustomCall:
    """One call of a custom op, but its inputs: raw custom options and output shapes."""

    name: str
    raw_options: bytes
    out_shapes: tuple[tuple[int, ...], ...]

    @property
    def options(self) -> dict:
        return custom_options(self.raw_options)

    @property
    def pool_params(self) -> PoolParams:
        return PoolParams.from_raw(self.raw_options, self.name)


def _rotation(r: float) -> np.ndarray:
    c, s = np.cos(F32(r)), np.sin(F32(r))
    return np.array([[c, -s], [s, c]], F32)


def landmarks_to_transform_matrix(landmarks: np.ndarray, options: dict) -> np.ndarray:
    """Landmarks2TransformMatrix v2: [1, N, 3] landmarks -> [1, 4, 4] matrix mapping the output
    crop's pixel grid to the input: the crop around `subset_idxs`, rotated so that the
    left -> right rotation landmarks line up with `target_rotation_radians`, scaled by
    scale_x/scale_y."""
    xy = landmarks.reshape(-1, 3)[:, :2].astype(F32)
    left, right = xy[options["left_rotation_idx"]], xy[options["right_rotation_idx"]]
    angle = F32(np.arctan2(right[1] - left[1], right[0] - left[0]))
    r = F32(options["target_rotation_radians"]) - angle
    subset = xy[np.asarray(options["subset_idxs"]).reshape(-1)]
    rotated = subset @ _rotation(r).T
    low, high = rotated.min(axis=0), rotated.max(axis=0)
    size = high - low
    center = _rotation(-r) @ ((low + high) / F32(2))
    out_w, out_h = options["output_width"], options["output_height"]
    scale = np.array(
        [options["scale_x"] * size[0] / out_w, options["scale_y"] * size[1] / out_h], F32
    )
    shift, shift2, rot, scaling = (np.eye(4, dtype=F32) for _ in range(4))
    shift[:2, 3] = center
    rot[:2, :2] = _rotation(-r)
    scaling[0, 0], scaling[1, 1] = scale
    shift2[:2, 3] = [-out_w / 2.0, -out_h / 2.0]
    return (shift @ rot @ scaling @ shift2).astype(F32).reshape(1, 4, 4)


def transform_landmarks(
    landmarks: np.ndarray, matrix: np.ndarray, dimensions: int | None = None, scale: float = 1.0
) -> np.ndarray:
    """TransformLandmarks: landmarks of `dimensions` values (2 or 3) -> x, y through the
    matrix's first two rows (z taken as 0, w as 1, the translation times `scale`); z, when
    there is one, unchanged. Version 2: [1, N, D], dimensions D, scale 1; version 1:
    [1, H, W, C], C / dimensions landmarks at each position."""
    m = matrix.reshape(4, 4).astype(F32)
    lm = landmarks.astype(F32).reshape(-1, dimensions or landmarks.shape[-1])
    out = lm.copy()
    x, y = lm[:, 0], lm[:, 1]
    out[:, 0] = m[0, 0] * x + m[0, 1] * y + m[0, 3] * F32(scale)
    out[:, 1] = m[1, 0] * x + m[1, 1] * y + m[1, 3] * F32(scale)
    return out.reshape(landmarks.shape)


def transform_tensor_bilinear(
    data: np.ndarray, matrix: np.ndarray, out_hw: tuple, version: int = 2
) -> np.ndarray:
    """TransformTensorBilinear: [1, H, W, C] -> [1, out_h, out_w, C], each output pixel
    (x, y) read bilinearly at the matrix's (x, y) (version 2 aligns pixel centres: T -> S T A
    with half-pixel shifts; version 1 does not); 0 where that point falls outside
    [0, W-1] x [0, H-1], and corners outside the image read 0."""
    _, h, w, _ = data.shape
    m = matrix.reshape(4, 4).astype(F32)
    tx = m[0].copy()
    ty = m[1].copy()
    if version == 2:
        tx[3] += tx[0] * F32(0.5) + tx[1] * F32(0.5) - F32(0.5)
        ty[3] += ty[0] * F32(0.5) + ty[1] * F32(0.5) - F32(0.5)
    grid = (np.arange(out_hw[0], dtype=F32), np.arange(out_hw[1], dtype=F32))
    oy, ox = np.meshgrid(*grid, indexing="ij")
    cx = tx[0] * ox + tx[1] * oy + tx[3]
    cy = ty[0] * ox + ty[1] * oy + ty[3]
    x0, y0 = np.floor(cx), np.floor(cy)
    padded = np.pad(data[0].astype(F32), ((1, 2), (1, 2), (0, 0)))  # reads outside are 0

    def read(yy: np.ndarray, xx: np.ndarray) -> np.ndarray:
        yi = np.clip(yy.astype(np.int64), -1, h) + 1
        xi = np.clip(xx.astype(np.int64), -1, w) + 1
        return padded[yi, xi]

    rx, ry = (cx - x0)[..., None], (cy - y0)[..., None]
    upper = (1 - rx) * read(y0, x0) + rx * read(y0, x0 + 1)
    lower = (1 - rx) * read(y0 + 1, x0) + rx * read(y0 + 1, x0 + 1)
    result = ry * lower + (1 - ry) * upper
    outside = (cx < 0) | (cx > w - 1) | (cy < 0) | (cy > h - 1)
    return np.where(outside[..., None], F32(0), result).astype(F32)[None]


def max_pool_with_argmax(data: np.ndarray, p: PoolParams) -> tuple[np.ndarray, np.ndarray]:
    """MaxPoolingWithArgmax2D: the kernel's loops over the window (rows, then columns) with
    its strict `>` from float32's lowest, vectorised over output positions; positions outside
    the input are skipped. Values clamped by the fused activation; indices are the window
    index ky * filter_w + kx of the first maximum, plus 0.1, as float32."""
    n, h, w, c = data.shape
    out_h, out_w = p.pooled_size(h, w)
    pad_h, pad_w = p.window_origin_shift((h, w), (out_h, out_w))
    best = np.full((n, out_h, out_w, c), LOWEST, F32)
    arg = np.zeros(best.shape, np.int64)
    for ky in range(p.filter_h):
        ys = np.arange(out_h) * p.stride_h - pad_h + ky
        for kx in range(p.filter_w):
            xs = np.arange(out_w) * p.stride_w - pad_w + kx
            inside = ((ys >= 0) & (ys < h))[:, None] & ((xs >= 0) & (xs < w))[None, :]
            cur = data[:, np.clip(ys, 0, h - 1)][:, :, np.clip(xs, 0, w - 1)].astype(F32)
            take = inside[None, :, :, None] & (cur > best)
            best = np.where(take, cur, best)
            arg = np.where(take, ky * p.filter_w + kx, arg)
    low, high = ACTIVATION_RANGES.get(p.activation, (None, None))
    if low is not None:
        best = np.clip(best, low, high)
    return best.astype(F32), arg.astype(F32) + F32(0.1)


def max_unpooling(data: np.ndarray, indices: np.ndarray, p: PoolParams) -> np.ndarray:
    """MaxUnpooling2D: zeros of [N, H * filter_h, W * filter_w, C], then each input value
    written, in input order, where its index points: C's float -> int truncation, row
    index / filter_w and column index % filter_w (both truncating, as C's), from the window
    origin; writes outside the output are skipped, and a later write to a place wins."""
    n, h, w, c = data.shape
    out_h, out_w = p.unpooled_size(h, w)
    pad_h, pad_w = p.window_origin_shift((out_h, out_w), (h, w))
    k = np.trunc(indices).astype(np.int64)
    row = np.sign(k) * (np.abs(k) // p.filter_w)
    col = k - row * p.filter_w
    b, iy, ix, ch = np.indices(data.shape)
    y, x = iy * p.stride_h - pad_h + row, ix * p.stride_w - pad_w + col
    ok = (y >= 0) & (y < out_h) & (x >= 0) & (x < out_w)
    flat = np.ravel_multi_index((b[ok], y[ok], x[ok], ch[ok]), (n, out_h, out_w, c))
    last = len(flat) - 1 - np.unique(flat[::-1], return_index=True)[1]
    out = np.zeros(n * out_h * out_w * c, F32)
    out[flat[last]] = data[ok][last]
    return out.reshape(n, out_h, out_w, c)


def _landmarks(inputs: list[np.ndarray], call: CustomCall, version: int) -> list[np.ndarray]:
    if version == 2:
        return [transform_landmarks(inputs[0], inputs[1])]
    o = call.options
    dims, scale = o.get("dimensions", 3), o.get("scale", 1.0)
    return [transform_landmarks(inputs[0], inputs[1], dims, scale)]


def _bilinear(inputs: list[np.ndarray], call: CustomCall, version: int) -> list[np.ndarray]:
    out_hw = call.out_shapes[0][1:3]
    return [transform_tensor_bilinear(inputs[0], inputs[1], out_hw, version)]


Reference = Callable[[list[np.ndarray], CustomCall], list[np.ndarray]]
# (custom op name, version) -> (its inputs, the call) -> its outputs
NUMPY_REFERENCES: dict[tuple[str, int], Reference] = {
    ("Landmarks2TransformMatrix", 2): lambda i, c: [landmarks_to_transform_matrix(i[0], c.options)],
    ("MaxPoolingWithArgmax2D", 1): lambda i, c: list(max_pool_with_argmax(i[0], c.pool_params)),
    ("MaxUnpooling2D", 1): lambda i, c: [max_unpooling(i[0], i[1], c.pool_params)],
    **{("TransformLandmarks", v): lambda i, c, v=v: _landmarks(i, c, v) for v in (1, 2)},
    **{
        (name, v): lambda i, c, v=v: _bilinear(i, c, v)
        for name in ("TransformTensor", "TransformTensorBilinear")
        for v in (1, 2)
    },
}
