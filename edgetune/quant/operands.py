"""Target-specific operands of the integer convolutions.

Where the target has an int8 dot-product instruction, every int8 x int8 convolution
(groups = 1, FULLY_CONNECTED included; uint8 x int8 too where the instruction takes uint8
activations: uint8 models on VNNI) is adapted to it:

- the weights are packed so that the tile one instruction reads (`lanes` output channels x
  `depth` input channels) is contiguous: [KH, KW, O/lanes, I/depth, lanes, depth]. TVM's
  intrinsics load that tile as one vector; on plain HWOI weights it would be strided. Input
  channels that do not tile are zero-padded (the 3-channel stem). A target may offer the
  instruction at several widths (VNNI: 16 lanes in a zmm register, 8 in a ymm one): each conv
  takes the widest whose lanes divide its output channels (MobileNetV2's 24- and 1000-channel
  convs use 8), so no output channel is padded. Convs no width fits keep HWOI.
- x86 VNNI (vpdpbusd) multiplies unsigned by signed bytes: the activations are shifted to uint8,
  u = x + 128, and the shift's contribution is removed from the int32 accumulator:
  conv(u, w) - 128 * sum(w) == conv(x, w), exactly. The pad and the shift fuse into one
  elementwise kernel; the correction folds into the constants of the requantization after the
  conv (ChannelRequantization.plus, FloatRequantization.plus), or else joins its epilogue as a
  subtract.
  Depthwise convs read the shifted activations too (padded with zx + 128): one operand
  zero-extended, LLVM multiplies and accumulates on vpdpwssd instead of vpmulld + vpaddd.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
from tvm import relax

from ..tvm_api import rewrite_relax_functions
from . import amx
from .fixed_point import ChannelRequantization
from .float_requantization import FloatRequantization
from .kernels import (
    conv2d_nhwc_packed,
    requantize_per_channel_fixed,
    requantize_per_channel_float,
)
from .rewrite import CLAMP_ATTR, DEPTHWISE_ATTR, NUDGE_ATTR, emit_depthwise

SHIFT = 128


@dataclass(frozen=True)
class DotProduct:
    """An int8 dot-product instruction as a TVM tensor intrinsic: `lanes` int32 accumulators,
    each adding `depth` byte products; `unsigned_data`: the activations must be uint8."""

    intrin: str
    lanes: int
    depth: int
    unsigned_data: bool


# TVM's own `dot_16x4_vnni` passes <16 x i32> operands to llvm.x86.avx512.vpdpbusd.512, which
# LLVM 22 (inside apache-tvm 0.27) declares with <64 x i8> operands; edgetune registers its own.
VNNI = (  # vpdpbusd on zmm, then on ymm registers (AVX512-VNNI with AVX512VL)
    DotProduct("edgetune_dot_16x4_u8i8i32_vnni", lanes=16, depth=4, unsigned_data=True),
    DotProduct("edgetune_dot_8x4_u8i8i32_vnni", lanes=8, depth=4, unsigned_data=True),
)
NEON = (DotProduct("dot_4x4_i8i8s32_neon", lanes=4, depth=4, unsigned_data=False),)  # ARMv8.0


def dot_products(target: Any) -> tuple[DotProduct, ...]:
    """The int8 dot-product instructions edgetune uses on `target`, widest first (empty: none).
    They share `unsigned_data`."""
    from tvm.target.codegen import target_has_features

    if str(target.kind.name) != "llvm":
        return ()
    if str(target.attrs.get("mtriple", "")).startswith("aarch64"):
        return NEON
    try:
        return VNNI if target_has_features("avx512vnni", target) else ()
    except Exception:  # a CPU name LLVM does not know
        return ()


def _is_int8_conv(call: Any, unsigned_data: bool) -> bool:
    """An integer conv with int8 weights (groups = 1) on int8 activations, or on uint8 ones
    (uint8 models) where the instruction takes them as they are (VNNI)."""
    from tvm.ir.expr import Constant

    data_types = ("int8", "uint8") if unsigned_data else ("int8",)
    return (
        isinstance(call, relax.Call)
        and getattr(call.op, "name", None) == "relax.nn.conv2d"
        and int(call.attrs.groups) == 1
        and str(call.attrs.out_dtype) == "int32"
        and str(call.attrs.kernel_layout) == "HWOI"
        and str(call.args[0].ty.dtype) in data_types
        and isinstance(call.args[1], Constant)
        and str(call.args[1].ty.dtype) == "int8"
    )


# the requantization kernels whose per-channel constants absorb an offset of the accumulator,
# and the class of those constants
_FOLDING = (
    (requantize_per_channel_fixed.__name__, ChannelRequantization),
    (requantize_per_channel_float.__name__, FloatRequantization),
)


def _requantization_of(call: Any) -> type | None:
    """The constants' class if `call` is a call_tir of a folding requantization kernel (the
    rewrite names its PrimFuncs after their kernels), else None."""
    if not (isinstance(call, relax.Call) and getattr(call.op, "name", None) == "relax.call_tir"):
        return None
    name = call.args[0].name_hint
    return next((cls for kernel, cls in _FOLDING if name.startswith(kernel)), None)


def _consts(requantization: ChannelRequantization | FloatRequantization) -> list[Any]:
    """The requantization's constants as Relax constants, in the order its kernels take."""
    return [relax.const(a, str(a.dtype)) for a in requantization.arrays()]


def _unlisted(value: Any) -> Any:
    """A TVM attribute value back in Python: arrays as tuples of ints, integers as int."""
    return tuple(int(v) for v in value) if hasattr(value, "__len__") else int(value)


def _minus_shift(acc: Any, w: np.ndarray) -> Any:
    """acc - 128 * sum(w) per output channel (HWOI weights): a conv of u = x + 128 back to
    the conv of x, exactly (the padded taps read zx + 128 too)."""
    correction = (SHIFT * w.astype(np.int64).sum(axis=(0, 1, 3))).astype(np.int32)
    return relax.op.subtract(acc, relax.const(correction, "int32"))


def pack_weight(w: np.ndarray, dot: DotProduct) -> np.ndarray:
    """HWOI weights (O a multiple of lanes) -> [KH, KW, O/lanes, I/depth, lanes, depth], I
    zero-padded up to a multiple of depth."""
    kh, kw, o, i = w.shape
    w = np.pad(w, ((0, 0), (0, 0), (0, 0), (0, -i % dot.depth)))
    i = w.shape[3]
    blocked = w.reshape(kh, kw, o // dot.lanes, dot.lanes, i // dot.depth, dot.depth)
    return np.ascontiguousarray(blocked.transpose(0, 1, 2, 4, 3, 5))


@relax.expr_functor.mutator
class _DotProductOperands(relax.PyExprMutator):
    def __init__(self, mod: Any, dots: tuple[DotProduct, ...], amx_threads: int) -> None:
        super().__init__(mod)
        self.dots = dots
        self.amx_threads = amx_threads  # 0: no AMX
        # int8 tensor x -> the uint8 tensor u = x + 128 the graph already has (VNNI targets)
        self.shifted: dict[Any, Any] = {}

    def visit_call_(self, call: Any) -> Any:
        call = self.visit_expr_post_order(call)
        requantization = _requantization_of(call)
        if requantization is not None:
            return self._fold_correction(call, requantization)
        depthwise = self._depthwise_params(call) if self.dots[0].unsigned_data else None
        if depthwise is not None:
            return self._unsigned_depthwise(call, depthwise)
        if not _is_int8_conv(call, self.dots[0].unsigned_data):
            return self._read_shifted(call)
        bb = self.builder_
        data, weight = call.args
        w = weight.value.numpy()
        dot = next((d for d in self.dots if w.shape[2] % d.lanes == 0), None)
        # int8 activations shift to uint8 where the instruction wants them so (uint8 ones are)
        shift = self.dots[0].unsigned_data and str(data.ty.dtype) == "int8"
        if shift:
            data = self._shift(data)
        if any(int(p) for p in call.attrs.padding) or dot is None:
            acc = bb.emit(relax.Call(call.op, [data, weight], call.attrs))
        else:
            acc = self._packed_conv(call, data, w, dot)
        return _minus_shift(acc, w) if shift else acc

    def _depthwise_params(self, call: Any) -> dict[str, Any] | None:
        """The parameters of a call_tir of the int8 depthwise kernel (None: another call)."""
        if getattr(call.op, "name", None) != "relax.call_tir":
            return None
        attrs = self.builder_.get()[call.args[0]].attrs
        if not attrs or DEPTHWISE_ATTR not in attrs:
            return None
        if str(call.args[1].fields[0].ty.dtype) != "int8":
            return None
        return {k: _unlisted(v) for k, v in attrs[DEPTHWISE_ATTR].items()}

    def _unsigned_depthwise(self, call: Any, params: dict[str, Any]) -> Any:
        """The depthwise conv on u = x + 128 (padded with zx + 128), minus 128 * sum(w) per
        channel: exact, and with one zero-extended operand LLVM multiplies on vpdpwssd (or
        vpmaddwd) instead of vpmulld + vpaddd."""
        data, weight = call.args[1].fields
        params = {**params, "pad_value": params["pad_value"] + SHIFT}
        acc = emit_depthwise(self.builder_, self._shift(data), weight, params)
        return _minus_shift(acc, weight.value.numpy())

    def _source(self, var: Any) -> Any:
        """The var a chain of var-to-var bindings starts from."""
        while isinstance(bound := self.lookup_binding(var), relax.Var):
            var = bound
        return var

    def _shift(self, x: Any) -> Any:
        """u = x + 128 as uint8, emitted once per tensor (or the uint8 tensor x came from)."""
        source = self._source(x)
        if source not in self.shifted:
            bb = self.builder_
            wide = bb.emit(relax.op.astype(x, "int32"))
            shifted = bb.emit(relax.op.add(wide, relax.const(SHIFT, "int32")))
            self.shifted[source] = bb.emit(relax.op.astype(shifted, "uint8"))
        return self.shifted[source]

    def _unshift(self, u: Any) -> Any:
        """x = u - 128 as int8: an elementwise prologue its consumer's kernel fuses."""
        bb = self.builder_
        wide = bb.emit(relax.op.astype(u, "int32"))
        return bb.emit(
            relax.op.astype(relax.op.subtract(wide, relax.const(SHIFT, "int32")), "int8")
        )

    def _read_shifted(self, call: Any) -> Any:
        """A kernel reading an int8 tensor that a VNNI conv also reads shifted reads the shifted
        one (unshifted in its own prologue), so the tensor's producer has one consumer, the
        shift, and fuses it: no kernel of its own for the shift."""
        if not (getattr(call.op, "name", None) == "relax.call_tir" and self.shifted):
            return call
        fields = list(call.args[1].fields)
        sources = [self._source(f) if isinstance(f, relax.Var) else None for f in fields]
        if not any(s in self.shifted for s in sources):
            return call
        fields = [
            self._unshift(self.shifted[s]) if s in self.shifted else f
            for f, s in zip(fields, sources)
        ]
        return relax.Call(call.op, [call.args[0], relax.Tuple(fields)], call.attrs, call.ty_args)

    def _fold_correction(self, call: Any, requantization: type) -> Any:
        """requantize(acc - c) -> requantize(acc) with c folded into its constants (of class
        `requantization`); the subtract is then dead (prepare_for_target eliminates it)."""
        from tvm.ir.expr import Constant

        acc, *consts = call.args[1].fields
        sub = self.lookup_binding(acc)
        if not (
            isinstance(sub, relax.Call)
            and getattr(sub.op, "name", None) == "relax.subtract"
            and isinstance(sub.args[1], Constant)
            and all(isinstance(c, Constant) for c in consts)
        ):
            return call
        current = requantization(*(c.value.numpy() for c in consts))
        folded = current.plus(-sub.args[1].value.numpy().astype(np.int64))
        if folded is None:
            return call
        if isinstance(folded, ChannelRequantization):  # AMX kernels requantize in fixed point
            amx_call = self._amx_conv(call, sub.args[0], folded)
            if amx_call is not None:
                return amx_call
        args = relax.Tuple([sub.args[0], *_consts(folded)])
        return relax.Call(call.op, [call.args[0], args], call.attrs, call.ty_args)

    def _amx_conv(self, call: Any, acc: Any, requantization: ChannelRequantization) -> Any:
        """requantize(conv2d_nhwc_packed(x, w)) of a 1x1, stride-1 conv with at least
        amx.MIN_DEPTH input channels -> one AMX kernel computing both (None: not such a conv,
        or no AMX)."""
        from tvm.ir.expr import Constant

        conv = self.lookup_binding(acc)
        if not (
            self.amx_threads
            and isinstance(conv, relax.Call)
            and getattr(conv.op, "name", None) == "relax.call_tir"
            and conv.args[0].name_hint.startswith("conv2d")
        ):
            return None
        data, packed = conv.args[1].fields
        if not isinstance(packed, Constant):
            return None
        out_ty = self.builder_.normalize(call).ty
        in_shape = [int(d) for d in data.ty.shape]
        out_shape = [int(d) for d in out_ty.shape]
        kh, kw, _, _, lanes, _ = (int(d) for d in packed.ty.shape)
        if (kh, kw, lanes) != (1, 1, amx.LANES) or in_shape[:-1] != out_shape[:-1]:
            return None
        spatial = tuple(in_shape[:-1])
        plan = amx.plan(int(np.prod(spatial)), in_shape[-1], out_shape[-1])
        if plan is None or plan.depth < amx.MIN_DEPTH:
            return None
        if str(out_ty.dtype) != "int8":
            return None
        # written as u = x + 128 (uint8), the input the next VNNI conv reads: an opaque kernel
        # cannot fuse the shift after it; int8 readers unshift u in their own prologue
        shifted = requantization.output_plus(SHIFT)
        if shifted is None:
            return None
        attrs = self.builder_.get()[call.args[0]].attrs
        lo, hi = (int(v) for v in attrs[CLAMP_ATTR])
        nudge = bool(int(attrs.get(NUDGE_ATTR, 1)))
        kernel = amx.conv1x1_requantized(
            plan, spatial, self.amx_threads, "uint8", lo + SHIFT, hi + SHIFT, nudge
        )
        gv = self.builder_.add_func(kernel, "amx_conv1x1")
        u_ty = relax.TensorType(out_ty.shape, "uint8")
        u = self.builder_.emit(relax.call_tir(gv, [data, packed, *_consts(shifted)], out_ty=u_ty))
        x = self._unshift(u)
        self.shifted[x] = u
        return x

    def _packed_conv(self, call: Any, data: Any, w: np.ndarray, dot: DotProduct) -> Any:
        """conv2d_nhwc_packed, input channels zero-padded up to a multiple of depth (data and
        weights)."""
        bb = self.builder_
        extra = -w.shape[3] % dot.depth
        if extra:
            data = bb.emit(relax.op.nn.pad(data, [0, 0, 0, 0, 0, 0, 0, extra], pad_value=0.0))
        kernel = partial(
            conv2d_nhwc_packed,
            strides=tuple(int(s) for s in call.attrs.strides),
            dilation=tuple(int(d) for d in call.attrs.dilation),
        )
        packed = relax.const(pack_weight(w, dot), "int8")
        return bb.emit_te(kernel, data, packed, primfunc_name_hint="conv2d")


def prepare_for_target(mod: Any, target: Any) -> Any:
    """Adapt the integer convolutions of `mod` to `target`'s dot-product instruction (and its
    deep 1x1 convs to AMX tiles where the target has them)."""
    dots = dot_products(target)
    if not dots:
        return mod
    threads = int(target.attrs.get("num-cores", 1)) if amx.has_amx(target) else 0
    rewriter = _DotProductOperands(mod, dots, threads)
    return relax.transform.DeadCodeElimination()(rewrite_relax_functions(rewriter))
