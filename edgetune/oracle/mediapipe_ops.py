"""NumPy references for MediaPipe custom ops that have no LiteRT builtin equivalent.

Each follows MediaPipe's kernel (mediapipe/util/tflite/operations/*.cc, version 2 of each op,
the one MediaPipe's models call) step by step in float32, independently of edgetune's Relax
compositions (frontend/converters/mediapipe.py), which are checked against them. Options are
the op's custom options decoded (`custom_options`, a FlexBuffer map).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

F32 = np.float32


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


def transform_landmarks(landmarks: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """TransformLandmarks v2: [1, N, D] landmarks (D 2 or 3) -> x, y through the matrix's first
    two rows (z taken as 0, w as 1); z, when there is one, unchanged."""
    m = matrix.reshape(4, 4).astype(F32)
    out = landmarks.astype(F32).copy()
    x, y = landmarks[..., 0], landmarks[..., 1]
    out[..., 0] = m[0, 0] * x + m[0, 1] * y + m[0, 3]
    out[..., 1] = m[1, 0] * x + m[1, 1] * y + m[1, 3]
    return out


def transform_tensor_bilinear(data: np.ndarray, matrix: np.ndarray, out_hw: tuple) -> np.ndarray:
    """TransformTensorBilinear v2: [1, H, W, C] -> [1, out_h, out_w, C], each output pixel
    (x, y) read bilinearly at the matrix's (x, y) (pixel centres aligned: T -> S T A with
    half-pixel shifts); 0 where that point falls outside [0, W-1] x [0, H-1], and corners
    outside the image read 0."""
    _, h, w, _ = data.shape
    m = matrix.reshape(4, 4).astype(F32)
    tx = m[0].copy()
    ty = m[1].copy()
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


def _bilinear(inputs: list[np.ndarray], options: dict, out_shape: tuple) -> np.ndarray:
    return transform_tensor_bilinear(inputs[0], inputs[1], out_shape[1:3])


# custom op name (version 2) -> (its inputs, decoded options, its output shape) -> its output
NUMPY_REFERENCES: dict[str, Callable[[list[np.ndarray], dict, tuple], np.ndarray]] = {
    "Landmarks2TransformMatrix": lambda i, o, _: landmarks_to_transform_matrix(i[0], o),
    "TransformLandmarks": lambda i, o, _: transform_landmarks(i[0], i[1]),
    "TransformTensorBilinear": _bilinear,
}
