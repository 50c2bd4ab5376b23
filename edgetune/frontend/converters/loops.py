"""WHILE loops with a trip count known at import, unrolled into the graph.

Keras RNN layers (LSTM, GRU) convert to a WHILE whose condition compares a step counter with
the sequence length, a constant. TVM 0.27 lowers every WHILE to a recursive Relax function:
each step then calls the body's tiny kernels through the VM, and a loop-carried tensor that
grows (the outputs a TensorList LSTM stacks step by step) is refused ("WHILE subgraph input
tensor metadata mismatch"). Where the condition folds to a constant on every step (the counter
and the bound are known, shape_folding evaluates the arithmetic), the body is converted once
per step in the enclosing graph instead: no recursion, static shapes, kernels fused across
the body's ops. A condition that depends on data, or more than MAX_STEPS steps, keeps the
stock recursive function.
"""

from __future__ import annotations

from typing import Any

import numpy as np

MAX_STEPS = 512
FLOAT32 = 0  # tflite TensorType


class StaticLoops:
    """Mixin for OperatorConverter: WHILE unrolled when its trip count is known at import."""

    def convert_while(self, op: Any) -> Any:
        from tflite.WhileOptions import WhileOptions

        options = self._get_builtin_options(op, WhileOptions)
        cond, body = int(options.CondSubgraphIndex()), int(options.BodySubgraphIndex())
        state = [self._loop_value(t) for t in self.get_input_tensors(op)]
        constants: dict[int, Any] = {}  # the body's float constants, shared by its steps
        for _ in range(MAX_STEPS + 1):
            (go,) = self._inline(cond, state, {})
            if not isinstance(go, np.ndarray):
                return super().convert_while(op)
            if not bool(go.reshape(-1)[0]):
                return self._bind_outputs(op, state)
            state = self._inline(body, state, constants)
        return super().convert_while(op)

    def _loop_value(self, tensor: Any) -> Any:
        """A loop variable: its value when known at import (NumPy), else its Relax expression."""
        known = self._known_value(tensor)
        return known if known is not None else self.get_tensor_expr(tensor)

    def _inline(self, index: int, state: list, constants: dict[int, Any]) -> list:
        """The subgraph `index` converted in this graph on `state`; its outputs (NumPy values
        where known at import)."""
        from ...tvm_api import tflite_converter

        subgraph = self._get_subgraph(index, "WHILE")
        table = tflite_converter.ExprTable()
        inner = type(self)(self.model, subgraph, table, self.bb, self.conversion_state)
        for tensor_index, value in zip(subgraph.InputsAsNumpy(), state):
            if isinstance(value, np.ndarray):
                inner.set_prefetched_node(int(tensor_index), value)
            else:
                table.set_expr(tflite_converter.get_tensor_name(subgraph, int(tensor_index)), value)
        inner._step_constants = constants
        inner.convert_op_to_relax()
        return [inner._loop_value(t) for t in inner.get_tensors(subgraph.OutputsAsNumpy())]

    def get_tensor_expr(self, tensor: Any, is_sparse: bool = False) -> Any:
        """In an unrolled step, a float constant's one Relax constant for every step (else a
        copy of the weights per step)."""
        shared = getattr(self, "_step_constants", None)
        if (
            shared is None
            or self.has_expr(tensor.tensor_idx)
            or tensor.tensor.Type() != FLOAT32
            or not tensor.buffer.DataLength()
        ):
            return super().get_tensor_expr(tensor, is_sparse)
        if tensor.tensor_idx not in shared:
            shared[tensor.tensor_idx] = super().get_tensor_expr(tensor, is_sparse)
        return shared[tensor.tensor_idx]

    def _bind_outputs(self, op: Any, state: list) -> None:
        """The WHILE's outputs are the final state."""
        from ...tvm_api import tflite_converter

        for tensor, value in zip(self.get_output_tensors(op), state):
            if isinstance(value, np.ndarray):
                self.set_prefetched_node(tensor.tensor_idx, value)
            else:
                name = tflite_converter.get_tensor_name(self.subgraph, tensor.tensor_idx)
                self.exp_tab.set_expr(name, value)
        return None
