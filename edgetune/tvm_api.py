"""TVM behind one seam: where this TVM release keeps the parts edgetune uses.

TVM 0.27 moved TIR to `tvm.tirx`, schedulable TIR and MetaSchedule under `tvm.s_tir`, and the
TFLite importer to Relax; the next release may move them again. Every other edgetune module
reaches those parts through the names below (`from ..tvm_api import ms`), so an upgrade changes
this file only (a test checks that no other module names them). Modules are imported on first
use: importing TVM takes seconds, and most commands never need all of it. Stable parts of TVM's
API (`tvm`, `tvm.relax`, `tvm.ir`, `tvm.te`, `tvm.rpc`, `tvm.runtime`, `tvm.support`,
`tvm.target`) are imported directly.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

TVM_VERSION = "0.27.0.post1"

LOCATIONS = {
    "ms": "tvm.s_tir.meta_schedule",  # MetaSchedule: tuning, database, rules, runners
    "s_tir": "tvm.s_tir",  # schedulable TIR: Schedule, TensorIntrin, analysis, transform
    "tirx": "tvm.tirx",  # TIR expressions, PrimFunc, analysis
    "tirx_build": "tvm.tirx.build",  # host/device split and codegen of a PrimFunc
    "tir_pipelines": "tvm.tirx.compilation_pipeline",  # named TIR lowering pipelines
    "T": "tvm.script.tirx",  # TVMScript for TIR (tensor intrinsic descriptions)
    "dlight": "tvm.s_tir.dlight",  # default GPU schedules for untuned functions
    "tflite_frontend": "tvm.relax.frontend.tflite",  # from_tflite
    "tflite_converter": "tvm.relax.frontend.tflite.tflite_frontend",  # OperatorConverter
    "driver": "tvm.driver",  # tvm.driver.build: TIR module -> runtime module
}


def __getattr__(name: str) -> Any:
    if name not in LOCATIONS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    if name == "ms":
        _enter_tensor_intrin_package()  # MetaSchedule's TuneContext imports it at construction
    module = importlib.import_module(LOCATIONS[name])
    globals()[name] = module
    return module


def structural_hash(node: Any, map_free_vars: bool = False) -> int:
    """TVM's structural hash of an IR node (0.27 keeps it in tvm_ffi, not tvm.ir); with
    `map_free_vars`, nodes differing only in their free variables hash alike."""
    import tvm_ffi

    return int(tvm_ffi.structural_hash(node, map_free_vars=map_free_vars))


def structural_equal(a: Any, b: Any, map_free_vars: bool = False) -> bool:
    """TVM's structural equality of two IR nodes (as `structural_hash`)."""
    import tvm_ffi

    return bool(tvm_ffi.structural_equal(a, b, map_free_vars=map_free_vars))


def rewrite_relax_functions(mutator: Any) -> Any:
    """Every Relax function of a relax.PyExprMutator's module visited by it; returns the module
    its builder then holds (functions the mutator added included)."""
    from tvm import relax

    for gv, func in list(mutator.builder_.get().functions.items()):
        if isinstance(func, relax.Function):
            mutator.builder_.update_func(gv, mutator.visit_expr(func))
    return mutator.builder_.get()


TENSOR_INTRIN_PACKAGE = "tvm.s_tir.tensor_intrin"
CPU_INTRINSICS = (
    f"{TENSOR_INTRIN_PACKAGE}.arm_cpu",  # NEON dot products (the A53 int8 rules)
    f"{TENSOR_INTRIN_PACKAGE}.x86",  # dot_16x4_vnni, named by MetaSchedule's own x86 rules
)


def register_tensor_intrinsics() -> None:
    """Register the TVM tensor intrinsics edgetune's rules use (NEON dot products; edgetune
    registers its own VNNI forms) and those MetaSchedule's built-in x86 rules name (the
    `default` rule set on a VNNI host); cheap after the first call.

    Needed to tensorize, and to read back records of tensorized candidates (their traces name
    the intrinsics). Only the CPU modules above are parsed (`_enter_tensor_intrin_package`).
    """
    _enter_tensor_intrin_package()
    with _frame_modules_cached():
        for name in CPU_INTRINSICS:
            importlib.import_module(name)


def _enter_tensor_intrin_package() -> None:
    """Put `tvm.s_tir.tensor_intrin` in place without running its `__init__`, which parses every
    target's intrinsics (CUDA's alone 10-15 s on 2 cores; all 4-5 s with
    `_frame_modules_cached`); MetaSchedule's TuneContext imports the package on every
    construction. Its modules still load when asked for (dlight imports `.cuda`, `.metal`)."""
    if TENSOR_INTRIN_PACKAGE in sys.modules:
        return
    spec = importlib.util.find_spec(TENSOR_INTRIN_PACKAGE)
    package = importlib.util.module_from_spec(spec)
    sys.modules[TENSOR_INTRIN_PACKAGE] = package
    parent, _, child = TENSOR_INTRIN_PACKAGE.rpartition(".")
    setattr(importlib.import_module(parent), child, package)


@contextmanager
def _frame_modules_cached() -> Iterator[None]:
    """TVMScript's `prim_func` calls `inspect.stack()` for each of the ~250 intrinsic functions
    parsed at import; for every frame of the import machinery (`<frozen ...>`, a file of no
    module) `inspect.getmodule` scans all of `sys.modules` again: the import took 17 s on a busy
    2-core host, 4.5 s with this. For a frame the answer depends on its file name only, so within
    the import those answers are kept."""
    scan = inspect.getmodule
    found: dict[str, Any] = {}

    def getmodule(obj: Any, _filename: str | None = None) -> Any:
        if _filename is None or not _filename.startswith("<") or not inspect.isframe(obj):
            return scan(obj, _filename)
        if _filename not in found:
            found[_filename] = scan(obj, _filename)
        return found[_filename]

    inspect.getmodule = getmodule
    try:
        yield
    finally:
        inspect.getmodule = scan
