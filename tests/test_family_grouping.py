"""Task families from static analysis of MobileNetV2's tasks: deterministic and meaningful."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from edgetune.board import load_board
from edgetune.cli.main import main
from edgetune.frontend import load_model
from edgetune.paths import MODELS_DIR
from edgetune.search.family import family_rounds
from edgetune.tasks import for_model

MOBILENET_FAMILIES = {
    "conv2d_nhwc-k1x1-s1-float32": 19,  # expand / project pointwise convs
    "group_conv2d_nhwc-k3x3x1-s1-float32": 6,  # depthwise 3x3, stride 1
    "group_conv2d_nhwc-k3x3x1-s2-float32": 4,  # depthwise 3x3, stride 2
    "conv2d_nhwc-k3x3-s2-float32": 1,  # the stem conv
    "matmul-float32": 1,  # the classifier
    "lv_red-float32": 1,  # the global average pool
}


@pytest.fixture(scope="module")
def mobilenet_tasks():
    board = load_board("host")
    model = load_model(MODELS_DIR / "mobilenet_v2_fp32.tflite")
    return [for_model(model, board).tasks for _ in range(2)]


def test_mobilenet_families(mobilenet_tasks):
    tasks, again = mobilenet_tasks
    assert Counter(t.family for t in tasks) == MOBILENET_FAMILIES
    assert {t.name: t.family for t in tasks} == {t.name: t.family for t in again}
    by_name = {t.name: t for t in tasks}
    assert by_name["fused_conv2d_add_tir_clip"].family == "conv2d_nhwc-k3x3-s2-float32"
    assert by_name["fused_conv2d4_add3_tir_clip2"].family.endswith("-s2-float32")  # 112 -> 56
    assert by_name["fused_conv2d7_add5_tir_clip3"].family.endswith("-s1-float32")  # 56 -> 56
    anchors = {fam: {t.anchor for t in tasks if t.family == fam} for fam in MOBILENET_FAMILIES}
    assert all(len(a) == 1 for a in anchors.values())  # a family never mixes anchor ops


def test_tasks_command_shows_family(capsys):
    assert main(["tasks", "tiny_fp32", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["tasks"]
    assert all(r["family"] for r in rows)
    assert {r["family"] for r in rows} >= {"conv2d_nhwc-k1x1-s1-float32", "matmul-float32"}


def test_family_rounds_keep_warmup_small():
    per_round, foresee = family_rounds(600, num_tasks=32, num_families=6)
    assert (per_round, foresee) == (12, 4)  # half a full round up to 4, else a quarter
    warmup = 6 * per_round + (32 - 6) * foresee
    assert warmup <= 600 * 2 // 5
    assert family_rounds(2000, 32, 6) == (40, 10)
    assert family_rounds(10, 2, 1) == (4, 2)  # floors


@pytest.mark.parametrize(("length", "stride"), [(1760, 160), (1759, 160), (1760, 178)])
def test_a_windows_stride_is_read_from_its_index_not_guessed_from_extents(length, stride):
    """openWakeWord's melspectrogram: a 512-wide window at stride 160 over 1760 values has 8
    outputs, as any stride from 157 to 178 would; its family said s178."""
    import tvm
    from tvm import te

    from edgetune.tasks.family import family_of

    outputs = (length - 512) // stride + 1
    x = te.placeholder((length,), "float32", name="x")
    w = te.placeholder((512,), "float32", name="w")
    r = te.reduce_axis((0, 512), name="r")
    conv = te.compute((outputs,), lambda i: te.sum(x[i * stride + r] * w[r], axis=r), name="conv")
    mod = tvm.IRModule({"main": te.create_prim_func([x, w, conv])})
    assert family_of(mod) == f"conv-k512-s{stride}-float32"
