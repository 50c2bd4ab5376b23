"""`edgetune space`: the sketches and sampled programs a board's rule set gives a task."""

from __future__ import annotations

from edgetune.paths import shipped_model

TINY = str(shipped_model("tiny_fp32.tflite"))


def test_space_on_mali_shows_bound_vectorized_programs_without_shared_memory(cli):
    result = cli("space", TINY, "0", "--board", "mali-pocl", "--samples", 2)
    assert result.code == 0, result.err
    out = result.out
    assert "rule set 'mali'" in out and "BindTileLevels" in out and "VectorizeInnermost" in out
    assert "== sketch 1/1" in out and "== sampled program 2/2 ==" in out
    sketch, samples = out.split("== sampled program 1/2 ==")
    assert "@blockIdx.x" in sketch and "@threadIdx.x" in sketch
    assert "local buffer" in sketch and "shared" not in out
    assert "@vectorized" not in sketch  # annotation comes with sampling (postprocessors)
    assert "@vectorized" in samples


def test_space_on_host_by_task_name(cli):
    result = cli("space", TINY, "fused_conv2d_add_tir_clip", "--samples", 1)  # host by default
    assert result.code == 0, result.err
    assert "rule set 'host'" in result.out and "task 0: fused_conv2d_add_tir_clip" in result.out
    assert "MultiLevelTiling" in result.out and "@parallel" in result.out


def test_space_bad_task_is_one_line(cli):
    result = cli("space", TINY, "99")
    assert result.code == 2
    assert (
        result.err.strip() == "edgetune: error: task index 99 out of range (the model has 5 tasks)"
    )
    result = cli("space", TINY, "conv9", "--board", "nope")
    assert result.code == 2 and "unknown board 'nope'" in result.err


def test_the_old_argument_order_is_named(cli):
    result = cli("space", "0", TINY)
    assert result.code == 2
    assert f"space takes the model first: edgetune space {TINY} 0" in result.err
