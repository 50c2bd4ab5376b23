"""Resource variables (VAR_HANDLE / READ_VARIABLE / ASSIGN_VARIABLE): state kept between
invocations, as streaming keyword spotters keep their last frames.

Stock TVM 0.27 only folds the CALL_ONCE initialization. Here each variable becomes explicit
state of the compiled function: `main(inputs..., states...) -> (outputs..., new states...)`,
its initial value the constant CALL_ONCE assigns. The runtime carries the states from one call
to the next (`runtime.local.LoadedModel`), as LiteRT's interpreter does.
"""

from __future__ import annotations

import contextlib
import contextvars
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class State:
    """One variable: its Relax parameter, initial value and value after the call."""

    name: str
    param: Any  # relax.Var
    initial: np.ndarray
    final: Any = None  # relax.Var bound to the last ASSIGN_VARIABLE (None: never assigned)


@dataclass
class States:
    """The variables one import found, in the order they were first used."""

    by_key: dict[tuple, State] = field(default_factory=dict)

    def __iter__(self) -> Iterator[State]:
        return iter(self.by_key.values())


_STATES: contextvars.ContextVar[States | None] = contextvars.ContextVar("states", default=None)


@contextlib.contextmanager
def collecting_states() -> Iterator[States]:
    """Collect the resource variables of the import run inside the block."""
    states = States()
    token = _STATES.set(states)
    try:
        yield states
    finally:
        _STATES.reset(token)


class ResourceVariables:
    """Mixin for OperatorConverter: variables read and assigned in the main graph."""

    def check_unsupported_ops(self) -> None:
        """None: stock 0.27 takes ASSIGN_VARIABLE of an int8 value (its first input, the
        handle, is not quantized) for dynamic-range quantization and refuses it. `load_model`
        checks the ops itself before the import (supported ops, `check_quantization`)."""

    def _state(self, handle: Any, op_name: str) -> State:
        """The state of the variable `handle` names, made on first use."""
        import tvm
        from tvm import relax

        states = _STATES.get()
        key = self._get_resource_key_for_handle(handle, op_name)
        if states is None:
            raise tvm.error.OpNotImplemented("resource variables outside edgetune's importer")
        if key not in states.by_key:
            initial = self.conversion_state["resource_values"].get(key)
            if initial is None:
                raise tvm.error.OpNotImplemented(
                    f"resource variable {key[1]} has no constant initial value (CALL_ONCE)"
                )
            value = np.asarray(initial.value.numpy())
            name = f"state:{key[1]}"
            # the kernels' buffers take the Relax name: a C identifier (TFLite's "stream_11/
            # states" put a slash into the OpenCL source), the readable name stays the state's
            param = relax.Var(
                re.sub(r"\W", "_", name), relax.TensorType(value.shape, str(value.dtype))
            )
            states.by_key[key] = State(name, param, value)
        return states.by_key[key]

    def convert_read_variable(self, op: Any) -> Any:
        if self.conversion_state["in_call_once_init"]:
            return super().convert_read_variable(op)
        (handle,) = self.get_input_tensors(op)
        state = self._state(handle, "READ_VARIABLE")
        return state.final if state.final is not None else state.param

    def convert_assign_variable(self, op: Any) -> Any:
        if self.conversion_state["in_call_once_init"]:
            return super().convert_assign_variable(op)
        handle, value = self.get_input_tensors(op)
        state = self._state(handle, "ASSIGN_VARIABLE")
        state.final = self.bb.emit_output(self.get_tensor_expr(value))
        return None


def attach_states(mod: Any, states: States) -> Any:
    """`main` with the states as trailing parameters and their new values as trailing outputs."""
    from tvm import relax

    values = list(states)
    if not values:
        return mod
    func = mod["main"]
    out, blocks = func.body.body, list(func.body.blocks)
    outs = [out]
    if isinstance(out.ty, relax.TupleType):  # several outputs: each bound to a var of its own
        bb = relax.BlockBuilder()
        items = [bb.normalize(relax.TupleGetItem(out, i)) for i in range(len(out.ty.fields))]
        outs = [relax.Var(f"output{i}", item.ty) for i, item in enumerate(items)]
        blocks.append(relax.BindingBlock([relax.VarBinding(*b) for b in zip(outs, items)]))
    news = [s.final if s.final is not None else s.param for s in values]
    params = [*func.params, *(s.param for s in values)]
    result = relax.BlockBuilder().normalize(relax.Tuple([*outs, *news]))
    body = relax.SeqExpr(blocks, result)
    new_func = relax.Function(params, body, result.ty).with_attrs(func.attrs)
    mod["main"] = new_func.with_attr("num_input", len(params))
    return mod
