"""Converters of TVM 0.27's TFLite importer that crash on valid models, replaced.

Each method overrides the stock converter of the same name (tests/test_frontend_converters.py
shows the stock one failing and this one matching LiteRT).
"""

from __future__ import annotations

from typing import Any

import numpy as np


class ImporterFixes:
    """Mixin for OperatorConverter: EXPAND_DIMS, float16 weights produced by DENSIFY, BATCH_MATMUL
    by a constant, RESHAPE to a computed shape, FULLY_CONNECTED's flattening, GATHER's index
    mode, CAST and SQUEEZE of complex values, CONCATENATION of empty tensors, SPLIT_V with an
    inferred size, REVERSE_V2 over several axes, one-scale weights of any quantized
    dimension; a conv without its bias is refused in words."""

    def get_tensors(self, tensors_idx_list: Any) -> list:
        """Tensors as stock reads them, but a tensor quantized with one scale is per-tensor
        whatever its `quantized_dimension` says: a per-channel quantizer writes 3 for a
        1-channel depthwise conv's weights, and stock 0.27 refused that ("Per-tensor
        DepthwiseConv2D weight QuantizedDimension() must be 0, got 3"); LiteRT runs it."""
        tensors = super().get_tensors(tensors_idx_list)
        for t in tensors:
            if t.qnn_params and t.qnn_params["scale"].value.numpy().ndim == 0:
                t.qnn_params["axis"] = 0
        return tensors

    def convert_conv(self, op: Any, conv_type: str) -> Any:
        """CONV_2D / DEPTHWISE_CONV_2D whose bias is omitted (input -1): stock read the missing
        tensor ("'int' object has no attribute 'Type'"). LiteRT's kernels refuse it too."""
        inputs = op.InputsAsNumpy()
        if len(inputs) > 2 and inputs[2] < 0:
            import tvm

            raise tvm.error.OpNotImplemented(
                "its bias tensor is omitted (input -1), which LiteRT's kernels refuse as well "
                '("Tensor at index 2 was optional but was expected"); re-export the model '
                "with a zero bias"
            )
        return super().convert_conv(op, conv_type)

    def convert_split_v(self, op: Any) -> Any:
        """SPLIT_V whose sizes hold one -1 (the rest of the axis: `tf.split(x, [2, -1, 1])`).
        Stock 0.27 took the -1 as a size ("split_indices must be sorted")."""
        from tvm import relax

        data, sizes, axis = self.get_input_tensors(op)
        if self.has_expr(sizes.tensor_idx):
            return super().convert_split_v(op)
        parts = [int(s) for s in np.asarray(self.get_tensor_value(sizes)).reshape(-1)]
        if -1 not in parts:
            return super().convert_split_v(op)
        x = self.bb.normalize(self.get_tensor_expr(data))
        dim = int(np.asarray(self.get_tensor_value(axis)).reshape(-1)[0]) % len(x.ty.shape)
        parts[parts.index(-1)] = int(x.ty.shape[dim]) - (sum(parts) + 1)
        out = relax.op.split(x, [int(i) for i in np.cumsum(parts)[:-1]], axis=dim)
        return out[0] if len(parts) == 1 else out

    def convert_reverse_v2(self, op: Any) -> Any:
        """REVERSE_V2 over several axes, one flip after the other (stock 0.27 refused more than
        one: "TFLite does not support multi-axis yet")."""
        from tvm import relax

        data, axes = self.get_input_tensors(op)
        x = self.get_tensor_expr(data)
        for axis in np.asarray(self.get_tensor_value(axes)).reshape(-1):
            x = relax.op.flip(x, int(axis))
        return x

    def convert_concatenation(self, op: Any) -> Any:
        """CONCATENATION without its zero-size inputs (an unrolled RNN's list of outputs starts
        empty, converters/loops.py): stock 0.27 concatenates them, and the fused kernel's
        zero-extent buffers made MetaSchedule divide by zero while sampling its schedules."""
        from tflite.ConcatenationOptions import ConcatenationOptions
        from tvm import relax

        inputs = self.get_input_tensors(op)
        kept = [t for t in inputs if not _empty(self, t)]
        options = self._get_builtin_options(op, ConcatenationOptions)
        plain = not inputs[0].qnn_params and not options.FusedActivationFunction()
        if len(kept) in (0, len(inputs)) or not plain:
            return super().convert_concatenation(op)
        exprs = [self.get_tensor_expr(t) for t in kept]
        return exprs[0] if len(exprs) == 1 else relax.op.concat(exprs, axis=options.Axis())

    def convert_expand_dims(self, op: Any) -> Any:
        """EXPAND_DIMS. Stock 0.27 calls `relax.op.expand_dims(x, axis, 1)` (TypeError: the
        Relax op takes two arguments)."""
        from tvm import relax

        data, axis_tensor = self.get_input_tensors(op)
        axis = int(np.asarray(self.get_tensor_value(axis_tensor)).reshape(-1)[0])
        return relax.op.expand_dims(self.get_tensor_expr(data), axis)

    def convert_dequantize(self, op: Any) -> Any:
        """DEQUANTIZE. Stock 0.27 reads a float16 input from its buffer, but a sparse weight's
        float16 values come from DENSIFY (no buffer: TypeError 'a bytes-like object is
        required'); use the densified value."""
        from tflite.TensorType import TensorType
        from tvm import relax

        (tensor,) = self.get_input_tensors(op)
        if tensor.tensor.Type() == TensorType.FLOAT16 and self.is_prefetched(tensor.tensor_idx):
            value = np.asarray(self.get_prefetched_node(tensor.tensor_idx), dtype="float16")
            const = self.exp_tab.new_const(value, dtype="float16", source_name=tensor.tensor.Name())
            return relax.op.astype(const, "float32")
        return super().convert_dequantize(op)

    def convert_batch_matmul(self, op: Any) -> Any:
        """BATCH_MATMUL. Stock 0.27 looks a constant operand up as a graph tensor (KeyError
        'Const_3': melspectrogram front ends multiply by a constant filter bank); Relax's
        matmul broadcasts the batch dimensions itself."""
        from tflite.BatchMatMulOptions import BatchMatMulOptions
        from tvm import relax

        if self.is_quantized(op):
            return super().convert_batch_matmul(op)
        options = BatchMatMulOptions()
        options.Init(op.BuiltinOptions().Bytes, op.BuiltinOptions().Pos)
        a, b = (self.bb.normalize(self.get_tensor_expr(t)) for t in self.get_input_tensors(op))
        if options.AdjX():
            a = relax.op.permute_dims(a, _swap_last(len(a.ty.shape)))
        if options.AdjY():
            b = relax.op.permute_dims(b, _swap_last(len(b.ty.shape)))
        return relax.op.matmul(a, b)

    def convert_reshape(self, op: Any) -> Any:
        """RESHAPE to a shape computed in the graph (SHAPE -> STRIDED_SLICE -> PACK, as Keras
        exports dynamic-batch models). Stock 0.27 passes the computed tensor where Relax wants
        a shape (TypeError in ShapeExpr); input shapes are static here, so the output's
        declared shape (one -1 inferred by the reshape) says the same."""
        from tvm import relax

        inputs = self.get_input_tensors(op)
        if len(inputs) < 2 or not self.has_expr(inputs[1].tensor_idx):
            return super().convert_reshape(op)
        (output,) = self.get_output_tensors(op)
        return relax.op.reshape(self.get_tensor_expr(inputs[0]), _output_signature(output))

    def convert_cast(self, op: Any) -> Any:
        """CAST from COMPLEX64 to a real type keeps the real part (TFLite's cast.cc). Relax holds
        a complex tensor as float32 [..., 2] (real, imaginary); stock 0.27 casts that pair
        tensor whole, so the result has a trailing axis of 2 that TFLite's has not (tf.signal
        spectrograms: the Tensordot after it failed to reshape). The real part is a slice, not a
        `take`: a slice fuses into the kernel that reads it, a gather is a kernel of its own."""
        from tvm import relax

        (tensor,) = self.get_input_tensors(op)
        if not self._is_tflite_complex64_type(tensor.tensor.Type()):
            return super().convert_cast(op)
        (output,) = self.get_output_tensors(op)
        pair = self.get_tensor_expr(tensor)
        real = relax.op.squeeze(relax.op.strided_slice(pair, axes=[-1], begin=[0], end=[1]), [-1])
        return relax.op.astype(real, self.get_tensor_type_str(output.tensor.Type()))

    def convert_gather(self, op: Any) -> Any:
        """GATHER as a take in "clip" mode, not stock's "fast": stock checks indices at import
        only when they are constants, so an index computed at run time out of range read out
        of bounds (a crash, where LiteRT reports an error), and every fast take printed "Fast
        mode segfaults when there are out-of-bounds indices" at each build. Clipping costs two
        integer operations an element of a memory-bound copy."""
        from tvm import relax

        take = super().convert_gather(op)
        return relax.op.take(*take.args, axis=int(take.attrs.axis), mode="clip")

    def convert_squeeze(self, op: Any) -> Any:
        """SQUEEZE of a COMPLEX64 tensor: negative axes count from TFLite's last axis, not from
        the [..., 2] pair axis of Relax's form (stock 0.27 squeezed nothing: squeeze_dims -2
        after RFFT2D in tf.signal.stft)."""
        from tflite.SqueezeOptions import SqueezeOptions
        from tvm import relax

        (tensor,) = self.get_input_tensors(op)
        if not self._is_tflite_complex64_type(tensor.tensor.Type()):
            return super().convert_squeeze(op)
        x = self.bb.normalize(self.get_tensor_expr(tensor))
        rank = len(x.ty.shape) - 1
        options = SqueezeOptions()
        options.Init(op.BuiltinOptions().Bytes, op.BuiltinOptions().Pos)
        axes = (
            [int(a) % rank for a in options.SqueezeDimsAsNumpy()]
            if options.SqueezeDimsLength()
            else [i for i in range(rank) if int(x.ty.shape[i]) == 1]
        )
        return relax.op.squeeze(x, axis=axes)

    def convert_fully_connected(self, op: Any) -> Any:
        """FULLY_CONNECTED. Without keep_num_dims TFLite flattens the input to
        [batch, n_inputs]; stock 0.27 keeps its leading dimensions (a [1,1,1,64] input gives
        [1,1,1,units], LiteRT [1,units]). An input whose last dimension is not n_inputs (TF1
        converters left the flattening to the op: [1,10,4,32] into 1280 inputs) is flattened
        first; stock multiplied it as it was ("Matmul requires the reduction length")."""
        from tflite.FullyConnectedOptions import FullyConnectedOptions
        from tvm import relax

        from ...tvm_api import tflite_converter

        data, weight = self.get_input_tensors(op)[:2]
        n_inputs = int(weight.tensor.ShapeAsNumpy()[1])
        shape = [int(d) for d in self.get_tensor_shape(data)]
        name = tflite_converter.get_tensor_name(self.subgraph, data.tensor_idx)
        unflattened = shape and shape[-1] != n_inputs and self.exp_tab.has_expr(name)
        if unflattened:
            original = self.exp_tab.get_expr(name)
            flat = relax.op.reshape(original, [-1, n_inputs])
            self.exp_tab.set_expr(name, self.bb.normalize(flat), force_override=True)
        try:
            out = self.bb.normalize(super().convert_fully_connected(op))
        finally:
            if unflattened:
                self.exp_tab.set_expr(name, original, force_override=True)
        options = FullyConnectedOptions()
        options.Init(op.BuiltinOptions().Bytes, op.BuiltinOptions().Pos)
        if options.KeepNumDims() or len(out.ty.shape) <= 2:
            return out
        units = int(weight.tensor.ShapeAsNumpy()[0])
        return relax.op.reshape(out, [-1, units])


def _swap_last(rank: int) -> list[int]:
    return [*range(rank - 2), rank - 1, rank - 2]


def _output_signature(tensor: Any) -> list[int]:
    """A TFLite tensor's declared shape (-1 where dynamic), or its default shape when more
    than one dimension is dynamic (a reshape can infer one)."""
    t = tensor.tensor
    sig = [int(d) for d in t.ShapeSignatureAsNumpy()] if t.ShapeSignatureLength() else []
    if not sig or sig.count(-1) > 1:
        return [int(d) for d in t.ShapeAsNumpy()] if t.ShapeLength() else []
    return sig


def _empty(converter: Any, tensor: Any) -> bool:
    """A tensor of zero elements (its shape static at import)."""
    shape = converter._static_shape(tensor) if tensor.tensor_idx >= 0 else None
    return shape is not None and 0 in np.asarray(shape).tolist()
