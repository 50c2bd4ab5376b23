"""Slices of concatenations read the concatenated pieces, and concatenations of concatenations
are flattened, before the model is legalized.

A TensorList LSTM converted by TFLite writes its outputs with a SetItem per step: the list
becomes concat(list[:i], h_i, list[i+1:]). Unrolled (frontend/converters/loops.py), each step's
list reads the previous one twice, and FuseOps fuses the chain of copies into one kernel whose
nested reads grow exponentially with the steps: MetaSchedule's space generation on it ran for
tens of minutes (PyIng's 60-step bidirectional LSTM). Rewritten, a slice takes the pieces it
covers (each step's list is then built from the outputs themselves), the intermediate lists
are dead (removed by DeadCodeElimination) and the final list is one concatenation of the steps'
outputs.
"""

from __future__ import annotations

from typing import Any


def concat_slices() -> Any:
    """The Relax module pass (static shapes along the concatenation axis only)."""
    import tvm
    from tvm import relax

    from ..tvm_api import rewrite_relax_functions, tirx

    def length(expr: Any, axis: int) -> int | None:
        shape = getattr(expr.ty, "shape", None)
        if shape is None or not isinstance(shape[axis], tirx.IntImm):
            return None
        return int(shape[axis])

    def ints(values: Any) -> list[int] | None:
        if not isinstance(values, relax.Tuple):
            return None
        fields = list(values.fields)
        return [int(f) for f in fields] if all(isinstance(f, tirx.IntImm) for f in fields) else None

    def concat_axis(call: Any) -> int:
        return int(call.attrs.axis) % len(call.ty.shape)

    @relax.expr_functor.mutator
    class Pieces(relax.PyExprMutator):
        def visit_call_(self, call: Any) -> Any:
            call = super().visit_call_(call)
            name = getattr(call.op, "name", "")
            new = None
            if name == "relax.concat" and isinstance(call.args[0], relax.Tuple):
                new = self._flattened(call)
            elif name == "relax.strided_slice":
                new = self._from_pieces(call)
            return call if new is None else new

        def _pieces(self, expr: Any, axis: int) -> list[Any] | None:
            """The inputs of the concatenation `expr` is bound to, along `axis`."""
            bound = expr
            while isinstance(bound, relax.Var):  # through aliases
                bound = self.lookup_binding(bound)
            if (
                not isinstance(bound, relax.Call)
                or getattr(bound.op, "name", "") != "relax.concat"
                or not isinstance(bound.args[0], relax.Tuple)
                or concat_axis(bound) != axis
            ):
                return None
            fields = list(bound.args[0].fields)
            return fields if all(length(f, axis) is not None for f in fields) else None

        def _flattened(self, call: Any) -> Any | None:
            axis = concat_axis(call)
            fields, spliced = [], False
            for field in call.args[0].fields:
                inner = self._pieces(field, axis)
                spliced |= inner is not None
                fields.extend(inner if inner is not None else [field])
            if not spliced:
                return None
            kept = [f for f in fields if length(f, axis) != 0]
            return kept[0] if len(kept) == 1 else relax.op.concat(kept, axis=axis)

        def _from_pieces(self, call: Any) -> Any | None:
            if len(call.args) != 4:  # strides given
                return None
            data = call.args[0]
            axes, begin, end = (ints(a) for a in call.args[1:4])
            if axes is None or begin is None or end is None or not isinstance(data, relax.Var):
                return None
            rank = len(data.ty.shape)
            bounds = {a % rank: (b, e) for a, b, e in zip(axes, begin, end)}
            sliced = [
                (a, b, e)
                for a, (b, e) in bounds.items()
                if not (b == 0 and (n := length(data, a)) is not None and e >= n)
            ]
            if len(bounds) != len(axes) or len(sliced) != 1:
                return None  # the concatenation axis must be the only one sliced
            axis, lo, hi = sliced[0]
            pieces = self._pieces(data, axis)
            total = length(data, axis)
            if pieces is None or total is None:
                return None
            lo, hi = (v + total if v < 0 else v for v in (lo, hi))
            lo, hi = max(0, min(lo, total)), max(0, min(hi, total))
            covered, offset = [], 0
            for piece in pieces:
                n = length(piece, axis)
                a, b = max(lo, offset), min(hi, offset + n)
                if a < b:
                    whole = a == offset and b == offset + n
                    covered.append(
                        piece
                        if whole
                        else relax.op.strided_slice(
                            piece, axes=[axis], begin=[a - offset], end=[b - offset]
                        )
                    )
                offset += n
            if not covered:
                return None
            if len(covered) == 1:
                return covered[0]
            return relax.op.concat(covered, axis=axis)

    @tvm.transform.module_pass(opt_level=0, name="ConcatSlices")
    def rewrite(mod: Any, _ctx: Any) -> Any:
        return rewrite_relax_functions(Pieces(mod))

    return rewrite
