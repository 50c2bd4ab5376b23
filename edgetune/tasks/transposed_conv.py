"""Transposed convs as regular convs (sub-pixel convolution), so they are tuned as NHWC convs.

TVM legalizes conv2d_transpose only NCHW, as a conv over the input dilated with zeros: for
stride s, s*s - 1 of every s*s multiplies are by zero, and an NHWC model pays two layout
transposes around it (MediaPipe's selfie segmenter: 0.18 ms of 1.0 ms in its last layer). Per
axis, output q = s*m + r (before cropping the padding) sums input m - j times tap r + j*s over
j < T = ceil(K / s): for each phase r, a T-tap conv of the input. So a transposed conv is one
NHWC conv with T x T taps and s*s*Cout output channels (the weights rearranged at compile time;
taps past K are zero), then depth-to-space and a crop of the padding: the same products and no
zero ones. Only for constant weights, static shapes, groups 1 and dilation 1 in NHWC; others
keep TVM's form.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def subpixel_weights(w_iohw: np.ndarray, strides: tuple[int, int]) -> np.ndarray:
    """The HWIO weights [T_h, T_w, Cin, s_h*s_w*Cout] of the regular conv: tap t of phase r
    (channels ordered r_h, r_w, Cout) is the transposed conv's tap r + (T - 1 - t)*s."""
    cin, cout, k_h, k_w = w_iohw.shape
    (s_h, s_w), t_h, t_w = strides, -(-k_h // strides[0]), -(-k_w // strides[1])
    padded = np.zeros((cin, cout, t_h * s_h, t_w * s_w), w_iohw.dtype)
    padded[:, :, :k_h, :k_w] = w_iohw
    # [ci, co, j_h, r_h, j_w, r_w] with k = j*s + r; tap t = T - 1 - j
    taps = padded.reshape(cin, cout, t_h, s_h, t_w, s_w)[:, :, ::-1, :, ::-1, :]
    return np.ascontiguousarray(
        taps.transpose(2, 4, 0, 3, 5, 1).reshape(t_h, t_w, cin, s_h * s_w * cout)
    )


def _as_conv(call: Any, emit: Any) -> Any | None:
    """The conv + depth-to-space + crop replacing an NHWC conv2d_transpose call (intermediate
    bindings through `emit`), or None to keep it."""
    from tvm import ir, relax

    from ..tvm_api import tirx

    attrs = call.attrs
    data, weight = call.args
    if (
        attrs.data_layout != "NHWC"
        or attrs.out_layout != "NHWC"
        or attrs.kernel_layout != "IOHW"
        or int(attrs.groups) != 1
        or any(int(d) != 1 for d in attrs.dilation)
        or not isinstance(weight, ir.Constant)
        or not all(isinstance(d, tirx.IntImm) for d in (*data.ty.shape, *call.ty.shape))
    ):
        return None
    strides = (int(attrs.strides[0]), int(attrs.strides[1]))
    top, left = int(attrs.padding[0]), int(attrs.padding[1])
    n, h, w, _ = (int(d) for d in data.ty.shape)
    _, out_h, out_w, cout = (int(d) for d in call.ty.shape)
    kernel = subpixel_weights(weight.value.numpy(), strides)
    m_h, m_w = h + kernel.shape[0] - 1, w + kernel.shape[1] - 1
    full_h, full_w = m_h * strides[0], m_w * strides[1]
    if top + out_h > full_h or left + out_w > full_w:  # output_padding past the last tap
        return None
    t_h, t_w = kernel.shape[0] - 1, kernel.shape[1] - 1
    conv = emit(
        relax.op.nn.conv2d(
            data,
            relax.const(kernel),
            padding=(t_h, t_w, t_h, t_w),
            data_layout="NHWC",
            kernel_layout="HWIO",
            out_dtype=str(attrs.out_dtype) if attrs.out_dtype else None,
        )
    )
    phases = emit(relax.op.reshape(conv, (n, m_h, m_w, *strides, cout)))
    spread = emit(relax.op.permute_dims(phases, [0, 1, 3, 2, 4, 5]))
    full = relax.op.reshape(spread, (n, full_h, full_w, cout))
    if (top, left, out_h, out_w) == (0, 0, full_h, full_w):
        return full
    return relax.op.strided_slice(emit(full), [1, 2], [top, left], [top + out_h, left + out_w])


def _nhwc_transposed_convs(mod: Any) -> int:
    """How many conv2d_transpose calls of `mod` are not NCHW."""
    from tvm import ir, relax

    found = []

    def visit(expr: Any) -> None:
        op = getattr(expr, "op", None)
        if isinstance(op, ir.Op) and op.name == "relax.nn.conv2d_transpose":
            found.append(expr.attrs.data_layout != "NCHW")

    for func in mod.functions.values():
        if isinstance(func, relax.Function):
            relax.analysis.post_order_visit(func, visit)
    return sum(found)


def transposed_convs() -> Any:
    """The Relax module pass, before LegalizeOps: NHWC transposed convs with constant weights
    rewritten as above (after FoldConstant, so weights permuted by the importer are constants);
    any other NHWC one computed NCHW between two transposes by Relax's ConvertLayout (TVM
    cannot legalize it NHWC: "CodeGenVMTIR cannot emit R.nn.conv2d_transpose"). Modules
    without one pass unchanged: ConvertLayout fails on some (std::bad_alloc on openWakeWord's
    melspectrogram model, which has no conv at all)."""
    import tvm
    from tvm import relax

    from ..tvm_api import rewrite_relax_functions

    @relax.expr_functor.mutator
    class SubPixel(relax.PyExprMutator):
        def visit_call_(self, call: Any) -> Any:
            call = super().visit_call_(call)
            if getattr(call.op, "name", "") != "relax.nn.conv2d_transpose":
                return call
            rewritten = _as_conv(call, self.builder_.emit)
            return call if rewritten is None else rewritten

    @tvm.transform.module_pass(opt_level=0, name="TransposedConvs")
    def rewrite(mod: Any, _ctx: Any) -> Any:
        if not _nhwc_transposed_convs(mod):
            return mod
        mod = relax.transform.FoldConstant()(mod)
        mod = rewrite_relax_functions(SubPixel(mod))
        if not _nhwc_transposed_convs(mod):
            return mod
        layouts = {"relax.nn.conv2d_transpose": ["NCHW", "IOHW"]}
        return relax.transform.ConvertLayout(layouts)(mod)

    return rewrite
