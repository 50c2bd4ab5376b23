"""Rule sets: each board gets its own space; users extend a board's set from their module."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from tflite_builder import fully_connected

from edgetune.board import load_board
from edgetune.compile import build_model
from edgetune.errors import BoardError
from edgetune.frontend import load_model
from edgetune.frontend.tflite_import import random_inputs
from edgetune.oracle import LiteRTModel
from edgetune.paths import shipped_model
from edgetune.records import RecordStore
from edgetune.rules import get_rule_set, rule_set_names
from edgetune.rules.show import explore
from edgetune.runtime import load_executable
from edgetune.search import tune_model
from edgetune.tasks import for_model


def _names(objs) -> list[str]:
    return [type(o).__name__.lstrip("_") for o in objs]


def _first_conv(board_name: str):
    board = load_board(board_name)
    model = load_model(str(shipped_model("tiny_fp32.tflite")))
    tasks = for_model(model, board).tasks
    return board, next(t for t in tasks if t.anchor == "conv2d_nhwc")


def test_boards_name_their_rule_sets():
    assert {"default", "host", "cortex-a53", "mali"} <= set(rule_set_names())
    assert load_board("host").rule_set == "host"
    assert load_board("rpi3").rule_set == "cortex-a53"
    assert load_board("mali-pocl").rule_set == "mali"
    for name in rule_set_names():
        assert get_rule_set(name).description


def test_mali_set_has_no_shared_memory_rules():
    parts = get_rule_set("mali").parts(load_board("mali-pocl"))
    rules, postprocs = _names(parts.rules), _names(parts.postprocs)
    assert "BindTileLevels" in rules
    assert {"LimitRegisterTile", "VectorizeInnermost"} <= set(postprocs)
    assert "CrossThreadReduction" not in rules
    assert "MultiLevelTiling" not in rules  # the CUDA tiling with shared-memory reads
    assert "RewriteCooperativeFetch" not in postprocs
    assert "VerifyGPUCode" in postprocs


def test_cpu_sets_are_sized_from_the_board():
    """Host (AVX-512, big cores) and Cortex-A53 (NEON, in-order) draw different annotations."""
    host, host_task = _first_conv("host")
    a53, a53_task = _first_conv("rpi3")
    host_trace = str(explore(host_task.mod, host, 0).sketches[0].trace)
    a53_trace = str(explore(a53_task.mod, a53, 0).sketches[0].trace)
    assert "candidates=[0, 16, 64, 512]" in host_trace
    assert "candidates=[0, 8, 32, 256]" in a53_trace
    assert "max_innermost_factor=64" in host_trace  # 16 fp32 lanes x 4
    assert "max_innermost_factor=32" in a53_trace  # 4 fp32 lanes x 8
    # the conv's output channels (16 here) end in one full vector: 16 fp32 lanes, 4 on NEON
    assert "factors=[1, 1, 1, 16]" in host_trace
    assert "factors=[None, 4]" in a53_trace


def _fc_traces(path: Path, units: int, board) -> tuple[object, list[str]]:
    model = load_model(str(fully_connected(path, units)))
    (fc,) = [t for t in for_model(model, board).tasks if t.anchor == "matmul"]
    return model, [str(s.trace) for s in explore(fc.mod, board, 0).sketches]


def test_outputs_not_dividing_into_vectors_get_no_partial_vector(tmp_path):
    """No predicated partial vector (its weight packing would be misaligned,
    `rules/cpu_tiling.py`): 36 outputs on 16 host lanes get exact divisors (perfect tiles); 40
    outputs (2.5 registers) one innermost tile of all 40; the tuned build matches LiteRT."""
    board = load_board("host")
    _, traces36 = _fc_traces(tmp_path / "fc36.tflite", 36, board)
    assert not any("factors=[None, 16]" in t for t in traces36)
    tiled36 = [t for t in traces36 if "tiling_structure" in t]
    assert tiled36 and all("sample_perfect_tile(loop=l3, n=4" in t for t in tiled36)
    model, traces = _fc_traces(tmp_path / "fc40.tflite", 40, board)
    assert not any("factors=[None, 16]" in t for t in traces)
    tiled = [t for t in traces if "tiling_structure" in t]
    assert tiled and all("factors=[1, 1, 1, 40]" in t for t in tiled)

    store = RecordStore(tmp_path / "recs", model.info, board)
    tune_model(model, board, store, 8, seed=0, search="ms", final_top=0, on_batch=lambda _: None)
    (x,) = random_inputs(model.info, seed=5)
    (out,) = load_executable(build_model(model, board, store).exe, 1)([x])
    (ref,) = LiteRTModel(model.path, threads=1)([x])
    assert np.abs(out - ref).max() <= 1e-5 * np.abs(ref).max()


def test_default_opencl_space_stages_in_shared_memory_but_mali_does_not():
    board, task = _first_conv("mali-pocl")
    from tvm.s_tir import meta_schedule as ms

    ctx = ms.TuneContext(mod=task.mod, target=board.target(), space_generator="post-order-apply")
    default_scripts = [s.mod.script() for s in ctx.generate_design_space()]
    assert any('scope="shared"' in s for s in default_scripts)
    mali_scripts = [s.mod.script() for s in explore(task.mod, board, 0).sketches]
    assert mali_scripts and not any('"shared"' in s for s in mali_scripts)
    assert all('scope="local"' in s for s in mali_scripts)


USER_RULES = """
from tvm.ir.utils import derived_object
from tvm.s_tir.meta_schedule.postproc import PyPostproc

CALLS = []


@derived_object
class CountingPostproc(PyPostproc):
    def _initialize_with_tune_context(self, context):
        pass

    def apply(self, sch):
        CALLS.append(1)
        return True

    def clone(self):
        return CountingPostproc()


def extend(parts, board):
    parts.postprocs.append(CountingPostproc())
"""


def _user_board(tmp_path, module: str, rule_set: str = "mali") -> str:
    text = load_board("mali-pocl").path.read_text()
    text = text.replace('rule_set = "mali"', f'rule_set = "{rule_set}"\nrules_module = "{module}"')
    path = tmp_path / "my-board.toml"
    path.write_text(text)
    return str(path)


def test_user_rules_module_beside_the_board_file_is_used(tmp_path):
    (tmp_path / "my_rules_ok.py").write_text(USER_RULES)
    board = load_board(_user_board(tmp_path, "my_rules_ok"))
    parts = get_rule_set(board.rule_set).parts(board)
    assert _names(parts.postprocs)[-1] == "CountingPostproc"
    _, task = _first_conv("mali-pocl")
    view = explore(task.mod, board, samples=2)
    assert view.samples
    import my_rules_ok  # imported by edgetune from the board's folder

    assert len(my_rules_ok.CALLS) >= len(view.samples)  # ran on every drawn candidate


def test_user_rules_module_errors_are_one_line(tmp_path):
    board = load_board(_user_board(tmp_path, "no_such_rules_module"))
    with pytest.raises(BoardError, match="rules_module 'no_such_rules_module' not found"):
        get_rule_set(board.rule_set).parts(board)
    (tmp_path / "rules_without_extend.py").write_text("X = 1\n")
    board = load_board(_user_board(tmp_path, "rules_without_extend"))
    with pytest.raises(BoardError, match=r"has no function extend\(parts, board\)"):
        get_rule_set(board.rule_set).parts(board)
    board = load_board(_user_board(tmp_path, "rules_without_extend", rule_set="default"))
    with pytest.raises(BoardError, match="rules_module needs a named rule set"):
        get_rule_set(board.rule_set).parts(board)
    with pytest.raises(BoardError, match="unknown rule set 'nope'"):
        get_rule_set("nope")


def test_default_set_on_a_vnni_host_generates_metaschedules_own_space():
    """MetaSchedule's built-in x86 rules name TVM's `dot_16x4_vnni`: the `default` set registers
    it (a board with `rule_set = "default"` failed with "TensorIntrin ... is not registered")."""
    import tvm

    from edgetune.tvm_api import ms

    board, task = _first_conv("host")
    target = tvm.target.Target({"kind": "llvm", "mcpu": "cascadelake", "num-cores": 2})
    ctx = ms.TuneContext(
        mod=task.mod, target=target, space_generator=get_rule_set("default").space(board)
    )
    rules = _names(ctx.space_generator.sch_rules)
    assert "MultiLevelTilingWithIntrin" in rules  # the VNNI rule: the intrinsic resolved
    assert ctx.generate_design_space()
