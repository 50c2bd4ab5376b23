"""Explicit zero padding before a conv becomes the conv's own padding.

Keras pads with a layer of its own before strided convs (`ZeroPadding2D`, then a VALID conv:
EfficientNet, Keras' MobileNets), and TFLite keeps it as a PAD op. FuseOps cannot fuse a
producer into a conv, so each PAD was a kernel of its own: one more pass over the activation,
written to memory and read back (EfficientNet-lite's ewn_base_model: four pads, 0.05 ms of
0.56). XNNPACK folds them into its convs' padding; so does this pass, before legalization, for
float NHWC convs whose input is a constant-zero pad of the spatial axes only.
"""

from __future__ import annotations

from typing import Any


def _folded(call: Any, binding: Any) -> Any | None:
    """The conv2d `call` reading the pad `binding` directly, with the pad in its padding; None
    when the pad is not a zero pad of the two spatial axes of a float NHWC input."""
    from tvm import relax

    pad = binding
    if getattr(getattr(pad, "op", None), "name", "") != "relax.nn.pad":
        return None
    attrs, width = call.attrs, [int(w) for w in pad.attrs.pad_width]
    if (
        attrs.data_layout != "NHWC"
        or str(pad.attrs.pad_mode) != "constant"
        or float(pad.attrs.pad_value) != 0.0
        or not str(pad.args[0].ty.dtype).startswith("float")
        or len(width) != 8
        or any(width[i] for i in (0, 1, 6, 7))
        or min(width) < 0
    ):
        return None
    top, left, bottom, right = (int(p) for p in attrs.padding)
    return relax.op.nn.conv2d(
        pad.args[0],
        call.args[1],
        strides=attrs.strides,
        padding=(top + width[2], left + width[4], bottom + width[3], right + width[5]),
        dilation=attrs.dilation,
        groups=attrs.groups,
        data_layout=attrs.data_layout,
        kernel_layout=attrs.kernel_layout,
        out_layout=attrs.out_layout,
        out_dtype=str(attrs.out_dtype) if attrs.out_dtype else None,
    )


def pads_into_convs() -> Any:
    """The Relax module pass (before LegalizeOps): convs read the unpadded input with the pad
    in their padding; a pad nothing else reads is then dead."""
    import tvm
    from tvm import relax

    from ..tvm_api import rewrite_relax_functions

    @relax.expr_functor.mutator
    class Fold(relax.PyExprMutator):
        def visit_call_(self, call: Any) -> Any:
            call = super().visit_call_(call)
            if getattr(call.op, "name", "") != "relax.nn.conv2d":
                return call
            data = call.args[0]
            binding = self.lookup_binding(data) if isinstance(data, relax.Var) else None
            folded = _folded(call, binding) if binding is not None else None
            return call if folded is None else folded

    @tvm.transform.module_pass(opt_level=0, name="PadsIntoConvs")
    def fold(mod: Any, _ctx: Any) -> Any:
        return relax.transform.DeadCodeElimination()(rewrite_relax_functions(Fold(mod)))

    return fold
