"""Lowering a model's Relax module into the fused primitive functions that are tuned and built.

Tasks must be extracted from exactly the module that is later compiled, or the database's
records would not match the build's functions: `tasks.for_model` lowers once and hands the
same fused module to the search and to `compile`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..quant.kernel_kind import CPU_ONLY, FIXED_SCHEDULE

LAYOUT_FREE = "layout_free_buffers"


def lower(mod: Any, target: Any) -> Any:
    """Prepare integer operands for the target, let slices of concatenations read the pieces
    (`concat_slices`), then legalize and fuse into primitive functions (table lookups as
    elementwise ops, `tables_elementwise`),
    give extern kernels a root block (`with_root_blocks`), keep kernels that share a conv but
    not its epilogue apart (`epilogues_apart`) and mark which kernel inputs are weights
    (`mark_layout_free`)."""
    import tvm
    from tvm import relax

    from ..quant.operands import prepare_for_target
    from .concat_slices import concat_slices
    from .transposed_conv import transposed_convs

    passes = tvm.transform.Sequential(
        [
            relax.transform.DecomposeOpsForInference(),
            relax.transform.CanonicalizeBindings(),
            concat_slices(),
            relax.transform.DeadCodeElimination(),
            transposed_convs(),
            relax.transform.LegalizeOps(),
            relax.transform.AnnotateTIROpPattern(),
            tables_elementwise(),
            relax.transform.FoldConstant(),
            broadcasts_apart(),
            relax.transform.FuseOps(),
            relax.transform.FuseTIR(),
        ]
    )
    _check_cpu_only(mod, target)
    with target:
        fused = with_root_blocks(passes(prepare_for_target(mod, target)))
        return mark_layout_free(epilogues_apart(fused))


def _check_cpu_only(mod: Any, target: Any) -> None:
    """ModelError naming the ops whose kernels are written for CPUs (`CPU_ONLY`: parallel CPU
    loops, no GPU threads), if `target` is not a CPU."""
    from ..errors import ModelError

    kind = str(target.kind.name)
    if kind == "llvm":
        return
    ops = sorted(
        {str(f.attrs[CPU_ONLY]) for f in mod.functions.values() if CPU_ONLY in (f.attrs or {})}
    )
    if ops:
        raise ModelError(
            f"{', '.join(ops)} run as CPU kernels in edgetune; {kind} boards cannot build them "
            "(use a CPU board)"
        )


BROADCAST_RATIO = 4  # an operand this many times smaller than the output: a broadcast map


def tables_elementwise() -> Any:
    """Table lookups (`quant.kernels.table_lookup`: an int8 LEAKY_RELU after a conv) are
    elementwise for FuseOps, so they fuse into the epilogue of the kernel before them:
    AnnotateTIROpPattern calls a load at a computed index opaque, and each one was a kernel of
    its own, one more pass over its tensor."""
    import tvm

    from ..quant.rewrite import TABLE_ATTR
    from ..tvm_api import tirx

    @tvm.transform.module_pass(opt_level=0, name="TablesElementwise")
    def elementwise(mod: Any, _ctx: Any) -> Any:
        for gv, func in list(mod.functions.items()):
            if isinstance(func, tirx.PrimFunc) and (func.attrs or {}).get(TABLE_ATTR):
                mod[gv] = func.with_attr("op_pattern", 0)  # kElemWise
        return mod

    return elementwise


def broadcasts_apart() -> Any:
    """Element-wise kernels that broadcast a computed (not constant) operand over an output
    BROADCAST_RATIO or more times larger are annotated injective, so FuseOps does not fuse them
    into the conv that computes the operand: a squeeze-and-excite gate (a conv on a 1x1 map, then
    sigmoid, then a multiply with the whole feature map) is then two kernels, the conv and a
    parallel element-wise task. Fused, the kernel shared its anchor block (the tiny conv) with
    convs that have no such epilogue, so it ran with their record, tuned for 16 values, on
    262144 (MediaPipe's selfie segmenter: three such kernels took 0.29 ms in the model, on one
    thread, estimated at 0). Fused, the gate's sigmoid was also inlined into the multiply and
    computed once per output instead of once per channel: on a 7x4 map, 28 times (an
    EfficientNet's 480-channel gate: 25 us a call, its 9600-MAC conv included), hence a small
    ratio. Constant operands (biases, per-channel scales) keep fusing."""
    import tvm
    from tvm import ir, relax

    from ..tvm_api import rewrite_relax_functions, tirx

    def numel(ty: Any) -> int:
        shape = getattr(ty, "shape", None)
        if shape is None or any(not isinstance(d, tirx.IntImm) for d in shape):
            return 0
        n = 1
        for d in shape:
            n *= int(d)
        return n

    @relax.expr_functor.mutator
    class Apart(relax.PyExprMutator):
        def __init__(self, mod: Any) -> None:
            super().__init__(mod)
            self.copies: dict[Any, Any] = {}

        def visit_call_(self, call: Any) -> Any:
            call = super().visit_call_(call)
            if getattr(call.op, "name", "") != "relax.call_tir":
                return call
            gv, args = call.args[0], call.args[1]
            func = self.builder_.get()[gv]
            if int((func.attrs or {}).get("op_pattern", 99)) > 1:  # element-wise, broadcast
                return call
            out = numel(call.ty)
            if not any(
                not isinstance(a, ir.Constant) and 0 < numel(a.ty) * BROADCAST_RATIO <= out
                for a in args.fields
            ):
                return call
            if gv not in self.copies:
                injective = func.with_attr("op_pattern", 2)
                self.copies[gv] = self.builder_.add_func(injective, f"{gv.name_hint}_broadcast")
            return relax.Call(call.op, [self.copies[gv], args], call.attrs, call.ty_args)

    @tvm.transform.module_pass(opt_level=0, name="BroadcastsApart")
    def apart(mod: Any, _ctx: Any) -> Any:
        return rewrite_relax_functions(Apart(mod))

    return apart


def with_root_blocks(mod: Any) -> Any:
    """Extern kernels written with TVM's IR builder (topi's scatter, which MediaPipe's
    MaxUnpooling2D uses) and edgetune's AMX kernels (`quant.amx`) have one opaque block and no
    "root" around it; schedules, task analysis and Relax's SplitLayoutRewritePreproc all expect
    one: wrap them in one. Their `pragma_scope` annotation, which the CPU code generator ignores
    with a warning at every build, is dropped. They are marked FIXED_SCHEDULE."""
    from ..tvm_api import s_tir, tirx

    for gv, func in list(mod.functions.items()):
        block = getattr(func, "body", None) and getattr(func.body, "block", None)
        if not isinstance(func, tirx.PrimFunc) or block is None or block.name_hint == "root":
            continue
        body = block.body
        if isinstance(body, tirx.AttrStmt) and body.attr_key == "pragma_scope":
            body = body.body
        fields = (block.init, block.alloc_buffers, block.match_buffers, block.annotations)
        inner = s_tir.SBlock(
            block.iter_vars, block.reads, block.writes, block.name_hint, body, *fields
        )
        root = s_tir.SBlock([], [], [], "root", s_tir.SBlockRealize([], True, inner))
        mod[gv] = func.with_body(s_tir.SBlockRealize([], True, root)).with_attr(
            FIXED_SCHEDULE, True
        )
    return mod


EPILOGUE = "edgetune.epilogue"  # anchor block annotation: the blocks of its kernel


def epilogues_apart(mod: Any) -> Any:
    """Kernels whose anchor blocks are equal but whose other blocks differ are kept apart.

    Tasks and records match kernels by their anchor block (`MODULE_EQUALITY`), so a conv fused
    with a bias and a ReLU and the same conv fused with a bias, a residual add and a ReLU were
    one task: only the first was tuned, and its schedule, which names the blocks it inlines,
    failed on the other at build time, which was then built untuned (MediaPipe's
    face_detection_full_range_sparse: four such kernels ran 48-59x their estimates, the model
    3.7x LiteRT). The anchor block of every kernel whose block names differ from those of the
    first kernel (in call order, as tasks are extracted) with an equal anchor is annotated with
    its block names, which makes it a task of its own. Kernels that differ in constants only
    (int8 scales) still share a task, and the first kernel's task keeps its hash."""
    import tvm
    from tvm import relax

    from ..tvm_api import s_tir, structural_equal, structural_hash, tirx

    first: dict[int, list[tuple[Any, tuple[str, ...]]]] = {}  # anchor hash -> (anchor, names)
    for block in mod["main"].body.blocks:
        for binding in block.bindings:
            call = binding.value
            if not (
                isinstance(call, relax.Call) and getattr(call.op, "name", None) == "relax.call_tir"
            ):
                continue
            gv = call.args[0]
            func = mod[gv]
            if not isinstance(func, tirx.PrimFunc):
                continue
            anchor = s_tir.analysis.find_anchor_sblock(tvm.IRModule({"main": func}))
            if anchor is None:
                continue
            names = tuple(b.name_hint for b in iter_blocks(func.body, s_tir))
            group = first.setdefault(structural_hash(anchor, map_free_vars=True), [])
            seen = next((n for a, n in group if structural_equal(a, anchor, True)), None)
            if seen is None:
                group.append((anchor, names))
            elif seen != names:
                sch = s_tir.Schedule(func)
                sch.annotate(sch.get_sblock(anchor.name_hint), EPILOGUE, ",".join(names))
                mod[gv] = sch.mod["main"]
    return mod


def without_epilogue_mark(func: Any) -> Any | None:
    """`func` with its anchor block's `epilogues_apart` mark removed (the kernel as the task of
    its conv's first kernel knows it), None if it has no mark."""
    from ..tvm_api import s_tir

    marked = [b.name_hint for b in iter_blocks(func.body, s_tir) if EPILOGUE in b.annotations]
    if not marked:
        return None
    sch = s_tir.Schedule(func)
    sch.unannotate(sch.get_sblock(marked[0]), EPILOGUE)
    return sch.mod["main"]


def mark_layout_free(mod: Any) -> Any:
    """Mark the weight inputs of float kernels as layout-free.

    A tuned kernel may then ask for its weights in a layout of its own (MetaSchedule's
    RewriteLayout), and the build packs them once, at compile time
    (`compile.compile_with_records`). Relax's AttachAttrLayoutFreeBuffers does the same but
    copies every function under a new name; here a kernel is marked in place when every call
    passes constants at the same positions. Kernels with 8-bit operands keep the layout
    `quant.operands` packed for their dot-product instruction (layout rewriting breaks
    tensorization), and FIXED_SCHEDULE kernels are never marked (MetaSchedule's
    RewriteLayout finds no block reading their buffers). Nor is a weight that a spatial block
    transforms before a reduction reads it (`_transformed_for_a_reduction`): a transposed conv
    flips its kernel in a block of its own, and RewriteLayout's layout through that block gave
    MediaPipe's selfie segmenter wrong outputs (max abs diff 1 on a [0, 1] mask), nor one read
    at a divided index (`_read_non_affinely`).
    """
    from tvm import relax

    from ..tvm_api import tirx

    constants = _constant_types()
    constant: set[Any] = set()
    positions: dict[Any, set[tuple[int, ...]]] = {}
    for block in mod["main"].body.blocks:
        for b in block.bindings:
            v = b.value
            if _const(v, constants, constant) or (
                isinstance(v, relax.Tuple) and all(_const(f, constants, constant) for f in v.fields)
            ):
                constant.add(b.var)
            elif isinstance(v, relax.Call) and getattr(v.op, "name", None) == "relax.call_tir":
                gv, args = v.args[0], v.args[1].fields
                consts = tuple(i for i, a in enumerate(args) if _const(a, constants, constant))
                positions.setdefault(gv, set()).add(consts)
    for gv, seen in positions.items():
        func = mod[gv]
        if len(seen) != 1 or not isinstance(func, tirx.PrimFunc) or FIXED_SCHEDULE in func.attrs:
            continue
        (indices,) = seen
        indices = tuple(
            i
            for i in indices
            if not _transformed_for_a_reduction(func, i) and not _read_non_affinely(func, i)
        )
        if indices and not any(str(p.dtype) in ("int8", "uint8") for p in func.params):
            mod[gv] = func.with_attr(LAYOUT_FREE, list(indices))
    return mod


def _read_non_affinely(func: Any, index: int) -> bool:
    """Whether a block loads param `index` at an index with a division or modulo (session 35's
    tuned FFT butterfly kernels read their twiddle table at (i % span % half) * stride):
    MetaSchedule's RewriteLayout packed such a table into 8 values read at constant positions,
    and the tuned stages computed wrong bins (star_trek's output 4e-4 off LiteRT, untuned
    1e-7). The loads' own indices count, not the block's read region (a union that can cover
    the whole table)."""
    from ..tvm_api import s_tir, tirx

    buffer = func.params[index]
    divisions = (tirx.FloorMod, tirx.FloorDiv, tirx.Mod, tirx.Div)
    fields = ("a", "b", "value", "args", "condition", "true_value", "false_value", "indices")

    def children(node: Any) -> list[Any]:
        out = []
        for f in fields:
            child = getattr(node, f, None)
            if child is None or isinstance(child, int | float | str):
                continue
            out.extend(child if hasattr(child, "__len__") else [child])
        return out

    def non_affine(expr: Any) -> bool:
        return isinstance(expr, divisions) or any(non_affine(c) for c in children(expr))

    def divided_load(expr: Any) -> bool:
        source = getattr(expr, "source", None)  # a load (0.27: TensorLoad of a buffer)
        if source is not None and source.same_as(buffer):
            return any(non_affine(i) for i in expr.indices)
        return any(divided_load(c) for c in children(expr))

    return any(
        divided_load(block.body.value)
        for block in iter_blocks(func.body, s_tir)
        if isinstance(block.body, tirx.BufferStore)
    )


def _transformed_for_a_reduction(func: Any, index: int) -> bool:
    """Whether param `index` reaches a reduction through a spatial block first (a transposed
    conv's kernel flip): RewriteLayout would rewrite it through that block. Weights read by the
    reduction itself, or only by element-wise epilogues (a PReLU's slope, a pool's constant
    add), keep their mark, and their tasks stay as earlier records know them."""
    from ..tvm_api import s_tir

    def reads(block: Any, buffer: Any) -> bool:
        return any(r.source.same_as(buffer) for r in block.reads)

    blocks = list(iter_blocks(func.body, s_tir))
    buffer = func.params[index]  # 0.27: params are the buffers
    return any(
        reads(consumer, w.source)
        for block in blocks
        if reads(block, buffer) and not is_reduction(block)
        for w in block.writes
        for consumer in blocks
        if is_reduction(consumer)
    )


def is_reduction(block: Any) -> bool:
    """Whether a TIR block has a reduction axis (a conv, matmul or pool, not an element-wise
    block)."""
    from ..tvm_api import tirx

    return any(iv.iter_type == tirx.IterVar.CommReduce for iv in block.iter_vars)


def iter_blocks(stmt: Any, s_tir: Any) -> Iterator[Any]:
    """Every block under `stmt` (loops, sequences, nested blocks)."""
    if isinstance(stmt, s_tir.SBlockRealize):
        yield stmt.block
        yield from iter_blocks(stmt.block.body, s_tir)
    elif hasattr(stmt, "seq"):
        for child in stmt.seq:
            yield from iter_blocks(child, s_tir)
    elif hasattr(stmt, "body"):
        yield from iter_blocks(stmt.body, s_tir)


def _constant_types() -> tuple[type, ...]:
    import tvm.ir.expr as ir_expr

    return tuple(getattr(ir_expr, n) for n in ("Constant", "GenericConst") if hasattr(ir_expr, n))


def _const(expr: Any, constants: tuple[type, ...], constant: set[Any]) -> bool:
    """Whether `expr` is a constant, a field of one, or a variable bound to one."""
    from tvm import relax

    if isinstance(expr, constants):
        return True
    if isinstance(expr, relax.TupleGetItem):
        return _const(expr.tuple_value, constants, constant)
    return expr in constant
