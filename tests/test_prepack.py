"""Weights pre-packed at build time: tuned float kernels read their weights in the layout the
schedule chose (MetaSchedule's RewriteLayout), the transform runs once when the library is
built, and outputs stay equal to LiteRT's."""

from __future__ import annotations

import numpy as np

from edgetune.board import load_board
from edgetune.compile import build_model
from edgetune.frontend import find_model, load_model
from edgetune.frontend.tflite_import import random_inputs
from edgetune.oracle import LiteRTModel
from edgetune.records import TUNING_RECORDS, RecordStore
from edgetune.search import tune_model


def _called_symbols(exe, inputs) -> tuple[set[str], np.ndarray]:
    import tvm
    from tvm import relax

    vm = relax.VirtualMachine(exe, tvm.cpu())
    seen: set[str] = set()

    def instrument(func, symbol, before_run, ret_value, *args):
        seen.add(symbol)
        return 0

    vm.set_instrument(instrument)
    out = vm["main"](*[tvm.runtime.tensor(x) for x in inputs]).numpy()
    return seen, out


def test_tuned_weights_are_packed_at_build_time_and_outputs_match_litert(tmp_path):
    board = load_board("host")
    model = load_model(find_model("tiny_fp32"))
    store = RecordStore(tmp_path / "recs", model.info, board)
    tune_model(model, board, store, 12, seed=0, search="ms", final_top=0, on_batch=lambda _: None)
    rewritten = (store.path / TUNING_RECORDS).read_text().count('"TransformLayout"')
    assert rewritten > 0  # the search space lets kernels choose their weight layout

    built = build_model(model, board, store, exec_mode="bytecode")  # the instrument needs it
    (x,) = random_inputs(model.info, seed=11)
    called, out = _called_symbols(built.exe, [x])
    assert any(s.endswith("_prepacked") for s in called)  # kernels reading packed weights
    assert not any("weight_prepack" in s for s in called)  # packing ran at build, not here
    (ref,) = LiteRTModel(model.path, threads=1)([x])
    assert np.abs(out - ref).max() <= 1e-5 * np.abs(ref).max()


def test_integer_kernels_keep_their_instruction_layout():
    from edgetune.tasks import for_model
    from edgetune.tvm_api import tirx

    fused = for_model(load_model(find_model("tiny_int8")), load_board("host")).fused
    marked = [
        gv.name_hint
        for gv, f in fused.functions.items()
        if isinstance(f, tirx.PrimFunc) and f.attrs and "layout_free_buffers" in f.attrs
    ]
    assert marked == []  # VNNI-packed int8 weights: no layout rewriting (breaks tensorize)
    fp32 = for_model(load_model(find_model("tiny_fp32")), load_board("host")).fused
    convs = [gv.name_hint for gv, f in fp32.functions.items()
             if isinstance(f, tirx.PrimFunc) and "conv2d" in gv.name_hint]  # fmt: skip
    assert convs and all("layout_free_buffers" in fp32[c].attrs for c in convs)


def test_the_vm_function_is_compiled_up_to_a_number_of_calls(monkeypatch):
    """The Relax VM's own function is machine code for models of up to COMPILED_MAX_CALLS
    kernel calls, bytecode beyond: LLVM's time on one function grows faster than its size (a
    wake-word model of 1441 calls, an unrolled loop, compiled for 332 s); outputs the same."""
    from edgetune.compile import library

    board = load_board("host")
    model = load_model(find_model("tiny_fp32"))
    (x,) = random_inputs(model.info, seed=3)
    outputs = []
    for limit, compiled in ((library.COMPILED_MAX_CALLS, True), (4, False)):  # tiny: 5 calls
        monkeypatch.setattr(library, "COMPILED_MAX_CALLS", limit)
        exe = build_model(model, board, None).exe
        assert ("vm_tir_func" in exe.as_text()) == compiled
        outputs.append(_called_symbols(exe, [x])[1])
    assert np.array_equal(*outputs)
