"""Constants passed to a control-flow branch, bound inside it.

TVM imports a TFLite IF as private Relax functions (the IF, its two branches) that take every
operand as a parameter, the branches' weights too: inside a branch a weight is then a variable,
so nothing folds at build time. openWakeWord's classifiers (oww_*) run their whole network in
an IF branch: its 64x1536 FULLY_CONNECTED weight was transposed on every call (87 us of the
model's 114 us, docs/performance.md, session 54). Here a private function called from one place
gets the constants of that call bound as constants, its parameters and the call's arguments
dropped, level after level (the IF's function passes them on to its branches).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

MAX_LEVELS = 8  # nested calls bound one level per round


def bind_constant_arguments(mod: Any) -> Any:
    """`mod` with the constant arguments of each private function called once bound in it."""
    for _ in range(MAX_LEVELS):
        bound = _bind_one_level(mod)
        if bound is None:
            return mod
        mod = bound
    return mod


def _calls(mod: Any) -> Counter:
    """How often each global function is called in `mod`."""
    from tvm import relax

    counts: Counter = Counter()

    def visit(expr: Any) -> None:
        if isinstance(expr, relax.Call) and isinstance(expr.op, relax.GlobalVar):
            counts[expr.op.name_hint] += 1

    for func in mod.functions.values():
        if isinstance(func, relax.Function):
            relax.analysis.post_order_visit(func, visit)
    return counts


def _bind_one_level(mod: Any) -> Any | None:
    """One round of binding (None: no call had a constant argument to bind)."""
    from tvm import relax
    from tvm.ir import Constant

    calls = _calls(mod)

    @relax.expr_functor.mutator
    class Binder(relax.PyExprMutator):
        bound = 0

        def visit_call_(self, call: Any) -> Any:
            call = super().visit_call_(call)
            if not isinstance(call.op, relax.GlobalVar) or calls[call.op.name_hint] != 1:
                return call
            callee = mod[call.op]
            constant = [i for i, a in enumerate(call.args) if isinstance(a, Constant)]
            if not isinstance(callee, relax.Function) or not constant:
                return call
            values = {callee.params[i]: call.args[i] for i in constant}
            gv = self.builder_.add_func(callee.bind_params(values), call.op.name_hint)
            self.bound += 1
            kept = [a for i, a in enumerate(call.args) if i not in constant]
            return relax.Call(gv, kept, call.attrs, call.ty_args)

    binder = Binder(mod)
    for gv, func in mod.functions.items():
        if isinstance(func, relax.Function):
            binder.builder_.update_func(gv, binder.visit_expr(func))
    if not binder.bound:
        return None
    entries = [gv.name_hint for gv, f in mod.functions.items() if _public(f)]
    return relax.transform.DeadCodeElimination(entries)(binder.builder_.get())


def _public(func: Any) -> bool:
    return bool(func.attrs) and "global_symbol" in func.attrs
