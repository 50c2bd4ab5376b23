"""The host rule set's postprocessed sketches of a PrimFunc, and building a scheduled module for
the host board with a named TIR pipeline, keeping the TIR that pipeline lowered it to (for tests
that check what a rule or a lowering pass wrote)."""

from __future__ import annotations

from typing import Any


def host_sketches(func: Any) -> list[Any]:
    """The host rule set's sketches of `func`, postprocessed (each valid one with its module)."""
    from edgetune.board import load_board
    from edgetune.rules.rule_set import get_rule_set
    from edgetune.tvm_api import ms

    board = load_board("host")
    space = get_rule_set("host").space(board)
    ctx = ms.TuneContext(mod=func, target=board.target(), space_generator=space, num_threads=1)
    valid = []
    for sketch in ctx.generate_design_space():
        if all(p.apply(sketch) for p in ctx.space_generator.postprocs):
            valid.append(sketch)
    return valid


def build_keeping_lowered(mod: Any, pipeline: str) -> tuple[Any, str]:
    """`mod` built for the host board with TIR pipeline `pipeline`: (the built module, the TIR
    after that pipeline's lowering passes, as TVMScript text)."""
    import tvm

    from edgetune.board import load_board
    from edgetune.tvm_api import tir_pipelines

    lowered = {}
    lower, finalize_host, finalize_device = tir_pipelines.get_tir_pipeline(pipeline)

    @tvm.transform.module_pass(opt_level=0)
    def keep(lowered_mod, _ctx):
        lowered["text"] = lowered_mod.script()
        return lowered_mod

    tir_pipelines.register_tir_pipeline(
        "test-keep-lowered",
        lambda: (tvm.transform.Sequential([lower, keep]), finalize_host, finalize_device),
    )
    lib = tvm.compile(mod, target=load_board("host").target(), tir_pipeline="test-keep-lowered")
    return lib, lowered["text"]
