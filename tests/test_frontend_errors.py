"""Bad input to every command: one clear line on stderr, non-zero exit, records untouched."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from conftest import set_operator_code
from tflite.BuiltinOperator import BuiltinOperator

from edgetune.paths import MODELS_DIR, REPO_DIR


def _one_line_error(result, *fragments: str) -> None:
    """Exactly one error line (status lines may precede it), no traceback."""
    assert result.code != 0
    errors = [ln for ln in result.err.splitlines() if ln.startswith("edgetune: error: ")]
    assert len(errors) == 1, result.err
    assert "Traceback" not in result.err
    for fragment in fragments:
        assert fragment in errors[0]


def test_missing_model(cli, tmp_path):
    _one_line_error(cli("tasks", tmp_path / "nope.tflite"), "not found", "nope.tflite")


def test_not_a_tflite_file(cli, tmp_path):
    path = tmp_path / "model.tflite"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(200))
    _one_line_error(cli("tasks", path), "not a TFLite model")


def test_truncated_model(cli, tmp_path):
    data = (MODELS_DIR / "tiny_int8.tflite").read_bytes()
    path = tmp_path / "cut.tflite"
    path.write_bytes(data[: len(data) // 2])
    _one_line_error(cli("tasks", path), "truncated", str(len(data) // 2))


def test_unsupported_operators_listed_with_counts(cli, tmp_path):
    data = (MODELS_DIR / "tiny_fp32.tflite").read_bytes()
    # tiny_fp32's operator codes: 0 CONV_2D (x2), 1 DEPTHWISE_CONV_2D, 3 MEAN
    data = set_operator_code(data, 0, BuiltinOperator.SKIP_GRAM)
    data = set_operator_code(data, 3, BuiltinOperator.LSH_PROJECTION)
    path = tmp_path / "odd.tflite"
    path.write_bytes(data)
    _one_line_error(
        cli("tasks", path), "unsupported TFLite operators", "SKIP_GRAM x2", "LSH_PROJECTION x1"
    )


def test_import_failure_names_the_operator(cli, tmp_path):
    """A SLICE whose size is computed in float (SHAPE -> CAST -> MUL -> CAST) cannot be folded
    at import, and TVM's converter needs it constant: the error names operator #4 SLICE."""
    from tflite_builder import Op, Tensor, write

    tensors = [
        Tensor("x", (1, 8)),  # 0
        Tensor("shape", (2,), "int32"),  # 1
        Tensor("shape_f", (2,)),  # 2
        Tensor("half", (), data=np.array(0.5, np.float32)),  # 3
        Tensor("size_f", (2,)),  # 4
        Tensor("size", (2,), "int32"),  # 5
        Tensor("begin", (2,), "int32", np.zeros(2, np.int32)),  # 6
        Tensor("y", (1, 4)),  # 7
    ]
    ops = [
        Op("SHAPE", [0], [1], "ShapeOptions", [(0, "int8", 2)]),
        Op("CAST", [1], [2]),
        Op("MUL", [2, 3], [4], "MulOptions"),
        Op("CAST", [4], [5]),
        Op("SLICE", [0, 6, 5], [7]),
    ]
    path = write(tmp_path / "computed_slice.tflite", tensors, ops, [0], [7])
    _one_line_error(cli("tasks", path), "computed_slice.tflite", "operator #4 SLICE", "TypeError")
    # --verbose (before or after the command) shows where in TVM's importer it failed (the
    # one-line error hid it: from None), then the error, with the same exit code
    for args in (("--verbose", "tasks", path), ("tasks", path, "-v")):
        result = cli(*args)
        assert result.code == 2 and result.err.startswith("Traceback"), result.err
        assert "tflite_frontend.py" in result.err and "convert_slice" in result.err
        assert result.err.strip().splitlines()[-1].startswith("edgetune: error: ")


@pytest.mark.parametrize("depthwise", [False, True])
def test_a_conv_without_its_bias_is_refused_in_words(cli, tmp_path, depthwise):
    """Bias omitted (input -1): LiteRT refuses it ("Tensor at index 2 was optional but was
    expected"); stock TVM said "'int' object has no attribute 'Type'"."""
    from tflite_builder import Op, Tensor, write

    shape = (1, 3, 3, 4) if depthwise else (4, 3, 3, 4)
    w = np.ones(shape, np.float32)
    tensors = [Tensor("x", (1, 5, 5, 4)), Tensor("w", shape, data=w), Tensor("y", (1, 5, 5, 4))]
    strides = [(0, "int8", 0), (1, "int32", 1), (2, "int32", 1)]
    if depthwise:
        op = Op("DEPTHWISE_CONV_2D", [0, 1, -1], [2], "DepthwiseConv2DOptions",
                [*strides, (3, "int32", 1)])  # fmt: skip
    else:
        op = Op("CONV_2D", [0, 1, -1], [2], "Conv2DOptions", strides)
    path = write(tmp_path / "no_bias.tflite", tensors, [op], [0], [2])
    name = "DEPTHWISE_CONV_2D" if depthwise else "CONV_2D"
    _one_line_error(cli("tasks", path), f"operator #0 {name}", "bias tensor is omitted (input -1)")


@pytest.mark.parametrize("dtype, zero_point", [("int8", -253), ("uint8", 300)])
def test_a_zero_point_its_type_cannot_hold_is_refused_at_import(cli, tmp_path, dtype, zero_point):
    """An int8 input of zero point -253 reached TVM's pad and failed there, deep in the build."""
    from tflite_builder import Op, Tensor, write

    tensors = [Tensor("x", (1, 4, 4, 3), dtype, quant=(0.05, zero_point)),
               Tensor("y", (1, 2, 2, 3), dtype, quant=(0.05, 0))]  # fmt: skip
    fields = [(0, "uint8", 1), (1, "int32", 2), (2, "int32", 2), (3, "int32", 2), (4, "int32", 2)]
    op = Op("AVERAGE_POOL_2D", [0], [1], "Pool2DOptions", fields)  # 2x2, stride 2, VALID
    path = write(tmp_path / "bad_zp.tflite", tensors, [op], [0], [1])
    _one_line_error(
        cli("tasks", path), f"tensor 'x' is {dtype} with zero point {zero_point}, outside"
    )


def test_unknown_board_lists_known_ones(cli):
    _one_line_error(
        cli("tasks", "tiny_fp32", "--board", "pi9"), "unknown board 'pi9'", "host", "rpi3"
    )


def _digest(folder):
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.iterdir())
        if p.is_file()
    }


def test_records_from_another_model_are_refused_and_untouched(cli, tmp_path):
    from edgetune.board import load_board
    from edgetune.frontend import read_tflite
    from edgetune.records import RecordStore

    recs = tmp_path / "recs"
    _, info = read_tflite(MODELS_DIR / "tiny_fp32.tflite")
    RecordStore(recs, info, load_board("host"))
    (recs / "database_tuning_record.json").write_text("[0, [[], [1.0], {}, []]]\n")
    before = _digest(recs)
    result = cli("tune", "tiny_int8", "--records", recs, "--trials", "4")
    _one_line_error(result, "belongs to model 'tiny_fp32'", "tiny_int8")
    result = cli("build", "tiny_int8", "--records", recs, "-o", tmp_path / "x.so")
    _one_line_error(result, "belongs to model 'tiny_fp32'")
    assert _digest(recs) == before


def test_records_from_another_board_are_refused(cli, tmp_path):
    from edgetune.board import load_board
    from edgetune.frontend import read_tflite
    from edgetune.records import RecordStore

    recs = tmp_path / "recs"
    _, info = read_tflite(MODELS_DIR / "tiny_fp32.tflite")
    RecordStore(recs, info, load_board("rpi3"))
    _one_line_error(
        cli("tune", "tiny_fp32", "--records", recs, "--trials", "4"),
        "belongs to board 'rpi3'",
        "host",
    )


def test_records_of_a_board_whose_target_changed_are_refused(cli, tmp_path):
    """A board file of the same name but another target (edited, or another file): the
    folder's records are of the old target, and building with them is refused."""
    from edgetune.board import load_board
    from edgetune.frontend import read_tflite
    from edgetune.records import RecordStore

    recs = tmp_path / "recs"
    _, info = read_tflite(MODELS_DIR / "tiny_fp32.tflite")
    RecordStore(recs, info, load_board("host"))
    rpi3 = (REPO_DIR / "boards" / "rpi3.toml").read_text()
    board = tmp_path / "host.toml"
    board.write_text(rpi3.replace('name = "rpi3"', 'name = "host"'))
    before = _digest(recs)
    _one_line_error(
        cli("build", "tiny_fp32", "--board", board, "--records", recs, "-o", tmp_path / "x.so"),
        "was tuned for target",
        "cortex-a53",
    )
    assert _digest(recs) == before and not (tmp_path / "x.so").exists()


def test_a_damaged_records_manifest_is_one_line_and_the_records_are_untouched(cli, tmp_path):
    from edgetune.board import load_board
    from edgetune.frontend import read_tflite
    from edgetune.records import MANIFEST, RecordStore

    recs = tmp_path / "recs"
    _, info = read_tflite(MODELS_DIR / "tiny_fp32.tflite")
    RecordStore(recs, info, load_board("host"))
    (recs / MANIFEST).write_text('{"model": "tiny_fp32", "model_sha')  # a copy cut short
    before = _digest(recs)
    for args in (["tune", "tiny_fp32", "--trials", "4"], ["build", "tiny_fp32", "-o", "x.so"]):
        _one_line_error(cli(*args, "--records", recs), "damaged manifest (not JSON)", "restore it")
    assert _digest(recs) == before


def test_foreign_folder_is_not_used_as_records(cli, tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    _one_line_error(
        cli("tune", "tiny_fp32", "--records", tmp_path, "--trials", "4"),
        "not an edgetune records folder",
    )
    # `build` only reads it: another folder is meant, not a new one
    result = cli("build", "tiny_fp32", "--records", tmp_path, "-o", tmp_path / "m.so")
    _one_line_error(result, "not an edgetune records folder")
    assert "name the folder `tune` wrote" in result.err
    assert (tmp_path / "notes.txt").read_text() == "mine"


@pytest.fixture(scope="module")
def tiny_int8_so(tmp_path_factory):
    from edgetune.cli.main import main

    out = tmp_path_factory.mktemp("lib") / "tiny_int8.so"
    assert main(["build", "tiny_int8", "-o", str(out)]) == 0
    return out


@pytest.mark.parametrize(
    "array, fragment",
    [
        (np.zeros((1, 32, 32, 3), np.float32), "float32[1x32x32x3] does not match"),
        (np.zeros((1, 16, 16, 3), np.int8), "int8[1x16x16x3] does not match"),
    ],
)
def test_wrong_input_shape_or_dtype(cli, tmp_path, tiny_int8_so, array, fragment):
    path = tmp_path / "in.npy"
    np.save(path, array)
    _one_line_error(cli("run", tiny_int8_so, "--input", path), fragment, "int8[1x32x32x3]")


def test_run_rejects_non_artifact(cli, tmp_path):
    path = tmp_path / "plain.so"
    path.write_bytes(b"\x7fELF" + bytes(100))
    _one_line_error(cli("run", path), "not an edgetune artifact")
