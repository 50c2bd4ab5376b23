"""Slices of concatenations read the pieces, nested concatenations are flattened
(tasks/concat_slices.py): same values as before the rewrite, no list read through a list."""

from __future__ import annotations

import re

import numpy as np


def _module():
    """x [2,3], y [3,3], z [1,3]; c = concat(x, y, z) [6,3] -> c[1:4] (parts of x and y),
    c[-2:] (y's last row and z), c[:, 1:2] (another axis: kept), concat(c[1:4], c)."""
    from tvm import relax

    t = {n: relax.TensorType((rows, 3), "float32") for n, rows in (("x", 2), ("y", 3), ("z", 1))}
    x, y, z = (relax.Var(n, t[n]) for n in ("x", "y", "z"))
    bb = relax.BlockBuilder()
    with bb.function("main", [x, y, z]):
        with bb.dataflow():
            c = bb.emit(relax.op.concat([x, y, z], axis=0))
            middle = bb.emit(relax.op.strided_slice(c, axes=[0, 1], begin=[1, 0], end=[4, 3]))
            last = bb.emit(relax.op.strided_slice(c, axes=[0], begin=[-2], end=[6]))
            column = bb.emit(relax.op.strided_slice(c, axes=[1], begin=[1], end=[2]))
            nested = bb.emit(relax.op.concat([middle, c], axis=0))
            out = bb.emit_output(relax.Tuple([middle, last, column, nested]))
        bb.emit_func_output(out)
    return bb.get()


def _run(mod, inputs):
    import tvm
    from tvm import relax

    vm = relax.VirtualMachine(tvm.compile(mod, target="llvm"), tvm.cpu())
    return [o.numpy() for o in vm["main"](*[tvm.runtime.tensor(a) for a in inputs])]


def _bindings(mod) -> dict[str, str]:
    """Each binding's variable name -> its value, as TVMScript prints them."""
    lines = [ln.strip() for ln in mod.script().splitlines() if ": R.Tensor" in ln and " = " in ln]
    return {ln.split(":")[0]: ln.split(" = ", 1)[1] for ln in lines}


def test_slices_read_pieces_and_values_are_unchanged():
    from tvm import relax

    from edgetune.tasks.concat_slices import concat_slices

    before = _module()
    after = relax.transform.DeadCodeElimination()(concat_slices()(before))
    rng = np.random.default_rng(0)
    inputs = [rng.standard_normal((n, 3)).astype(np.float32) for n in (2, 3, 1)]
    for a, b in zip(_run(before, inputs), _run(after, inputs)):
        np.testing.assert_array_equal(a, b)
    values = _bindings(after)
    concat_var = next(v for v, e in values.items() if e.startswith("R.concat((x, y, z)"))
    uses = [v for v, e in values.items() if re.search(rf"\b{concat_var}\b", e)]
    # only the slice along another axis still reads the concatenation
    assert len(uses) == 1 and "(1,), (1,), (2,)" in values[uses[0]], values
