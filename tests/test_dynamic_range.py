"""Dynamic-range quantized models (float activations, int8 weights): imported with their
weights dequantized, built, and checked against LiteRT on the same float arithmetic."""

from __future__ import annotations

import numpy as np
import pytest
from tflite_builder import Op, Tensor, build, hybrid_network

from edgetune.board import load_board
from edgetune.compile import build_model
from edgetune.frontend import load_model, read_tflite
from edgetune.oracle.conformance import check_model
from edgetune.oracle.dequantized import dequantize_weights
from edgetune.oracle.litert import LiteRTModel
from edgetune.runtime import load_executable


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hybrid")
    return hybrid_network(folder / "hybrid.tflite"), hybrid_network(folder / "float.tflite", True)


def _max_error(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).max() / np.abs(b).max())


def test_dequantized_copy_holds_the_float_weights(models):
    """The reference's copy: the conv's (dimension 0), the depthwise conv's (dimension 3), the
    FC's (per tensor) weights as float32; the DEQUANTIZE'd constant kept int8. LiteRT's
    reference kernels give the float model's outputs, bit for bit."""
    hybrid, float_model = models
    copy, count = dequantize_weights(hybrid.read_bytes())
    assert count == 3
    x = np.random.default_rng(1).standard_normal((1, 8, 8, 8)).astype(np.float32)
    ours = LiteRTModel(copy, 1, reference_kernels=True)([x])[0]
    expected = LiteRTModel(float_model.read_bytes(), 1, reference_kernels=True)([x])[0]
    np.testing.assert_array_equal(ours, expected)
    assert dequantize_weights(float_model.read_bytes()) == (float_model.read_bytes(), 0)


def test_hybrid_network_runs_the_float_arithmetic(models):
    """Built on the host: equal to LiteRT on the dequantized weights within float rounding,
    and within LiteRT's own activation rounding of its hybrid kernels."""
    hybrid, float_model = models
    model = load_model(hybrid)
    assert model.info.quantization == "dynamic-range" and not model.info.quantized
    board = load_board("host")
    ours = load_executable(build_model(model, board, None).exe, 1, info=model.info)
    for seed in range(3):
        x = np.random.default_rng(seed).standard_normal((1, 8, 8, 8)).astype(np.float32)
        y = ours([x])[0]
        float_reference = LiteRTModel(float_model.read_bytes(), 1, True)([x])[0]
        hybrid_kernels = LiteRTModel(hybrid.read_bytes(), 1, True)([x])[0]
        assert _max_error(y, float_reference) < 1e-5
        # LiteRT's hybrid kernels round every activation to int8 on the fly
        assert 1e-4 < _max_error(y, hybrid_kernels) < 3e-2


def test_conformance_checks_against_the_dequantized_copy(models):
    result = check_model(models[0], load_board("host"))
    assert result["status"] == "pass", result
    assert result["quantization"] == "dynamic-range"
    assert result["reference"] == "LiteRT (3 int8 weight tensors dequantized)"
    assert result["outputs"][0]["error"] < 1e-5


def test_dynamic_range_op_in_a_control_flow_body(tmp_path):
    """A hybrid FULLY_CONNECTED (float input, int8 weights) in a second subgraph (a GRU's
    WHILE body) makes the model dynamic-range, like one in the main graph."""
    main = ([Tensor("x", (1, 4)), Tensor("y", (1, 4))], [Op("RELU", [0], [1])], [0], [1])
    w = Tensor("w", (3, 4), "int8", np.ones((3, 4), np.int8), quant=(0.02, 0))
    body = [Tensor("h", (1, 4)), w, Tensor("o", (1, 3))]
    fc = [Op("FULLY_CONNECTED", [0, 1, -1], [2], "FullyConnectedOptions")]
    path = tmp_path / "gru.tflite"
    path.write_bytes(build(*main, more=[(body, fc, [0], [2])]))
    assert read_tflite(path)[1].quantization == "dynamic-range"


def test_dynamic_range_copy_script(models, tmp_path):
    """scripts/dynamic_range_copy.py quantizes the float network's weights of 1024 elements
    or more (conv 1152, FC 10240; not the depthwise conv's 144) as the converter does; the
    copy is dynamic-range, and LiteRT's hybrid kernels run it close to the float model."""
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).parents[1] / "scripts" / "dynamic_range_copy.py"
    out = tmp_path / "copy.tflite"
    done = subprocess.run(
        [sys.executable, str(script), str(models[1]), str(out)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "2 weight tensors quantized to int8" in done.stdout
    assert read_tflite(out)[1].quantization == "dynamic-range"
    x = np.random.default_rng(5).standard_normal((1, 8, 8, 8)).astype(np.float32)
    hybrid = LiteRTModel(out.read_bytes(), 1, True)([x])[0]
    exact = LiteRTModel(models[1].read_bytes(), 1, True)([x])[0]
    assert 0 < _max_error(hybrid, exact) < 3e-2


def test_build_and_run_from_the_command_line(models, tmp_path, cli):
    """`build` says how the model computes; the library `run` loads gives the float model's
    outputs."""
    so, x_path, out = tmp_path / "hybrid.so", tmp_path / "x.npy", tmp_path / "y.npy"
    built = cli("build", models[0], "--board", "host", "-o", so)
    assert built.code == 0, built.err
    assert "dynamic-range: int8 weights dequantized, float arithmetic" in built.err + built.out
    x = np.random.default_rng(9).standard_normal((1, 8, 8, 8)).astype(np.float32)
    np.save(x_path, x)
    ran = cli("run", so, "--board", "host", "--input", x_path, "--output", out, "--repeat", "1")
    assert ran.code == 0, ran.err
    expected = LiteRTModel(models[1].read_bytes(), 1, True)([x])[0]
    assert _max_error(np.load(out), expected) < 1e-5


def test_compare_reports_both_references(models, cli):
    """`compare` on a dynamic-range model: agreement with LiteRT's hybrid kernels (activation
    rounding) and with LiteRT on the dequantized copy (float rounding only)."""
    import json

    compared = cli("compare", models[0], "--repeat", "1", "--rounds", "1", "--json")
    assert compared.code == 0, compared.err
    result = json.loads(compared.out)
    (hybrid,) = result["agreement"]
    (exact,) = result["agreement_weights_dequantized"]
    assert exact["max_abs_diff"] < 1e-3 < hybrid["max_abs_diff"]
    text = cli("compare", models[0], "--repeat", "1", "--rounds", "1")
    assert "against LiteRT with the int8 weights dequantized" in text.out


def test_integer_models_keep_their_int8_constants():
    """Full-integer models have no float op reading int8 weights: nothing is dequantized, not
    even the int8 initial values a stateful model's ASSIGN_VARIABLEs store (dequantizing them
    made its state float32)."""
    from farm_support import STATEFUL

    from edgetune.paths import MODELS_DIR

    for path in (STATEFUL, MODELS_DIR / "mobilenet_v2_int8.tflite"):
        assert dequantize_weights(path.read_bytes())[1] == 0
        assert read_tflite(path)[1].quantization == "int8"
