"""MediaPipe custom ops with no LiteRT builtin equivalent (Landmarks2TransformMatrix,
TransformLandmarks, TransformTensorBilinear; version 2, as MediaPipe's models call them, and
version 1 of the last two): each in a one-op model, built by edgetune on the host, equals the
NumPy reference of the oracle layer (which follows MediaPipe's kernels)."""

from __future__ import annotations

import numpy as np
import pytest
from flatbuffers import flexbuffers
from tflite_builder import Op, Tensor, write

from edgetune.board import load_board
from edgetune.compile import build_model
from edgetune.errors import ModelError
from edgetune.frontend import load_model
from edgetune.oracle import LiteRTModel
from edgetune.oracle.conformance import check_model
from edgetune.oracle.mediapipe_ops import (
    landmarks_to_transform_matrix,
    transform_landmarks,
    transform_tensor_bilinear,
)
from edgetune.oracle.numpy_ops_reference import LiteRTWithNumPyOps
from edgetune.runtime import load_executable

RNG = np.random.default_rng(7)
L2TM_OPTIONS = {
    "left_rotation_idx": 2,
    "right_rotation_idx": 9,
    "output_height": 6,
    "output_width": 8,
    "scale_x": 1.5,
    "scale_y": 1.25,
    "subset_idxs": [2, 9, 4, 5, 11, 0, 7, 3],
    "target_rotation_radians": 0.3,
}
L2TM_RAW = flexbuffers.Dumps(L2TM_OPTIONS)
# a crop of a 12 x 10 image, rotated and scaled, partly outside it (those pixels read 0)
MATRIX = np.array(
    [[[0.9, 0.35, 0, -1.5], [-0.3, 1.1, 0, 2.0], [0, 0, 1, 0], [0, 0, 0, 1]]], np.float32
)


def _ours(
    tmp_path, name: str, tensors, options: dict, inputs: list[np.ndarray], version: int = 2
) -> np.ndarray:
    """The one-op model's output from edgetune's host build (inputs: all tensors but the last)."""
    raw = flexbuffers.Dumps(options) if options else b""
    ins = list(range(len(tensors) - 1))
    op = Op(f"CUSTOM:{name}", ins, [len(ins)], custom=raw, version=version)
    path = write(tmp_path / f"{name}.tflite", tensors, [op], ins, [len(ins)])
    model = load_model(path)
    (out,) = load_executable(build_model(model, load_board("host"), None).exe, 1)(inputs)
    return out


def test_landmarks_to_transform_matrix(tmp_path):
    landmarks = RNG.uniform(0, 48, (1, 12, 3)).astype(np.float32)
    tensors = [Tensor("landmarks", (1, 12, 3)), Tensor("matrix", (1, 4, 4))]
    got = _ours(tmp_path, "Landmarks2TransformMatrix", tensors, L2TM_OPTIONS, [landmarks])
    want = landmarks_to_transform_matrix(landmarks, L2TM_OPTIONS)
    assert np.abs(want[0, :2, :2]).min() > 0.1  # a real rotation and scale, not identity
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5 * np.abs(want).max())
    # version 1 has other shapes and options: refused in one line, never computed as version 2
    op = Op("CUSTOM:Landmarks2TransformMatrix", [0], [1], custom=L2TM_RAW, version=1)
    path = write(tmp_path / "v1.tflite", tensors, [op], [0], [1])
    with pytest.raises(
        ModelError, match="Landmarks2TransformMatrix version 1: edgetune implements"
    ):
        load_model(path)


@pytest.mark.parametrize("depth", [2, 3])
def test_transform_landmarks(tmp_path, cli, depth):
    landmarks = RNG.uniform(0, 16, (1, 9, depth)).astype(np.float32)
    tensors = [Tensor("landmarks", landmarks.shape), Tensor("m", (1, 4, 4))]
    tensors.append(Tensor("out", landmarks.shape))
    got = _ours(tmp_path, "TransformLandmarks", tensors, {}, [landmarks, MATRIX])
    want = transform_landmarks(landmarks, MATRIX)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-5)
    if depth == 3:
        np.testing.assert_array_equal(got[..., 2], landmarks[..., 2])
        compared = cli("compare", tmp_path / "TransformLandmarks.tflite", "--repeat", "1",
                       "--rounds", "1")  # fmt: skip
        assert compared.code == 0, compared.err  # LiteRT cannot run it: LiteRT + NumPy instead
        assert "reference: LiteRT + NumPy (custom ops in NumPy: TransformLandmarks x1)" in (
            compared.out
        )
        assert "LiteRT not timed" in compared.out and "output 0: max abs diff" in compared.out


def test_transform_tensor_bilinear(tmp_path):
    data = RNG.standard_normal((1, 12, 10, 3)).astype(np.float32)
    tensors = [Tensor("data", data.shape), Tensor("m", (1, 4, 4)), Tensor("out", (1, 8, 9, 3))]
    options = {"output_height": 8, "output_width": 9}
    got = _ours(tmp_path, "TransformTensorBilinear", tensors, options, [data, MATRIX])
    want = transform_tensor_bilinear(data, MATRIX, (8, 9))
    outside = (want == 0).all(axis=-1)
    assert 0 < outside.sum() < outside.size / 2  # some pixels fall outside the image
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("dims, shape, scale", [(3, (1, 2, 3, 12), 2.0), (2, (1, 1, 5, 6), 0.5)])
def test_transform_landmarks_version_1(tmp_path, dims, shape, scale):
    """Version 1: [1, H, W, C] with C / dimensions landmarks at each position, the matrix's
    translation times `scale` (options `dimensions`, `scale`)."""
    landmarks = RNG.uniform(0, 16, shape).astype(np.float32)
    tensors = [Tensor("landmarks", shape), Tensor("m", (1, 4, 4)), Tensor("out", shape)]
    options = {"dimensions": dims, "scale": scale}
    got = _ours(tmp_path, "TransformLandmarks", tensors, options, [landmarks, MATRIX], version=1)
    want = transform_landmarks(landmarks, MATRIX, dims, scale)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-5)
    moved = (want - transform_landmarks(landmarks, MATRIX, dims)).reshape(-1, dims)[:, :2]
    shift = np.broadcast_to((scale - 1) * MATRIX[0, :2, 3], moved.shape)
    np.testing.assert_allclose(moved, shift, atol=1e-5)  # only the translation is scaled
    if dims == 3:
        np.testing.assert_array_equal(got.reshape(-1, 3)[:, 2], landmarks.reshape(-1, 3)[:, 2])


@pytest.mark.parametrize("name", ["TransformTensor", "TransformTensorBilinear"])
def test_transform_tensor_bilinear_version_1(tmp_path, name):
    """Version 1 (MediaPipe registers it as TransformTensor) reads at the matrix's point
    without version 2's half-pixel alignment."""
    data = RNG.standard_normal((1, 12, 10, 3)).astype(np.float32)
    tensors = [Tensor("data", data.shape), Tensor("m", (1, 4, 4)), Tensor("out", (1, 8, 9, 3))]
    options = {"mode": "bilinear", "output_size": [8, 9]}
    got = _ours(tmp_path, name, tensors, options, [data, MATRIX], version=1)
    want = transform_tensor_bilinear(data, MATRIX, (8, 9), version=1)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    assert np.abs(want - transform_tensor_bilinear(data, MATRIX, (8, 9))).max() > 0.1
    options["mode"] = "nearest"
    op = Op(f"CUSTOM:{name}", [0, 1], [2], custom=flexbuffers.Dumps(options), version=1)
    path = write(tmp_path / "nearest.tflite", tensors, [op], [0, 1], [2])
    with pytest.raises(ModelError, match="mode 'nearest': only bilinear exists"):
        load_model(path)


def test_whole_model_reference_runs_custom_ops_in_numpy(tmp_path):
    """landmarks x 2 (a builtin) -> Landmarks2TransformMatrix -> TransformTensorBilinear on a
    second input: LiteRT cannot run it; the reference runs LiteRT and the NumPy ops in turn, and
    edgetune matches it (status pass-np, not pass)."""
    two = Tensor("two", (1,), data=np.array([2.0], np.float32))
    tensors = [Tensor("landmarks", (1, 12, 3)), Tensor("data", (1, 12, 10, 3)), two]
    tensors += [Tensor("scaled", (1, 12, 3)), Tensor("m", (1, 4, 4)), Tensor("out", (1, 6, 8, 3))]
    ops = [
        Op("MUL", [0, 2], [3], "MulOptions"),
        Op("CUSTOM:Landmarks2TransformMatrix", [3], [4], custom=L2TM_RAW, version=2),
        Op("CUSTOM:TransformTensorBilinear", [1, 4], [5], version=2),
    ]
    path = write(tmp_path / "chain.tflite", tensors, ops, [0, 1], [5])
    landmarks = RNG.uniform(0, 5, (1, 12, 3)).astype(np.float32)
    data = RNG.standard_normal((1, 12, 10, 3)).astype(np.float32)
    with pytest.raises(
        ModelError, match="LiteRT cannot run the model: .*Landmarks2TransformMatrix"
    ):
        LiteRTModel(path, 1, builtin_kernels=True)
    reference = LiteRTWithNumPyOps(path.read_bytes())
    matrix = landmarks_to_transform_matrix(2 * landmarks, L2TM_OPTIONS)
    want = transform_tensor_bilinear(data, matrix, (6, 8))
    assert np.abs(want).max() > 0
    np.testing.assert_array_equal(reference([landmarks, data])[0], want)
    result = check_model(path, load_board("host"))
    assert result["status"] == "pass-np", result
    assert result["reference"] == (
        "LiteRT + NumPy (custom ops in NumPy: Landmarks2TransformMatrix x1, "
        "TransformTensorBilinear x1)"
    )
