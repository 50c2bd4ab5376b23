"""Building a scheduled module for the host board with a named TIR pipeline, keeping the TIR
that pipeline lowered it to (for tests that check what a lowering pass wrote)."""

from __future__ import annotations

from typing import Any


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
