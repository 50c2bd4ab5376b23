"""SPACE_TO_BATCH_ND and BATCH_TO_SPACE_ND as reshapes, a transpose and a pad or a slice.

Stock TVM 0.27 imports both as calls to `topi.nn.*_to_*_nd` packed functions that take
shape arguments the runtime cannot pass (a built model failed at its first run: "Cannot
convert from type ffi.Tensor to std::string"). Written with Relax's data-movement ops they
fuse and tune like any other kernel. TF1 exported dilated convolutions this way.
"""

from __future__ import annotations

from typing import Any

import numpy as np


class SpaceBatchMoves:
    """Mixin for OperatorConverter: SPACE_TO_BATCH_ND, BATCH_TO_SPACE_ND."""

    def _block_args(self, op: Any) -> tuple[Any, Any, list[int], list[int], np.ndarray]:
        """(input tensor, its expression, its shape, block shape, [M, 2] paddings or crops)."""
        data, block, edges = self.get_input_tensors(op)
        x = self.bb.normalize(self.get_tensor_expr(data))
        blocks = [int(b) for b in np.asarray(self.get_tensor_value(block)).reshape(-1)]
        edges = np.asarray(self.get_tensor_value(edges)).reshape(len(blocks), 2)
        return data, x, [int(d) for d in x.ty.shape], blocks, edges

    def convert_space_to_batch_nd(self, op: Any) -> Any:
        """Pad the M spatial dimensions, split each into (size / block, block), move the block
        axes in front of the batch and merge them into it (TFLite's space_to_batch_nd.cc);
        quantized tensors pad with their zero point."""
        from tvm import relax

        data, x, shape, blocks, pads = self._block_args(op)
        m, rest = len(blocks), shape[1 + len(blocks) :]
        zero = float(data.qnn_params["zero_point"].value.numpy()) if data.qnn_params else 0.0
        widths = [0, 0, *[int(p) for p in pads.reshape(-1)], *[0] * 2 * len(rest)]
        padded = relax.op.nn.pad(x, pad_width=widths, pad_value=zero)
        sizes = [shape[1 + i] + int(pads[i].sum()) for i in range(m)]
        split = [shape[0]]
        for size, block in zip(sizes, blocks, strict=True):
            split += [size // block, block]
        x = relax.op.reshape(padded, [*split, *rest])
        order = [2 + 2 * i for i in range(m)] + [0] + [1 + 2 * i for i in range(m)]
        x = relax.op.permute_dims(x, [*order, *range(1 + 2 * m, 1 + 2 * m + len(rest))])
        batch = shape[0] * int(np.prod(blocks))
        return relax.op.reshape(x, [batch, *[s // b for s, b in zip(sizes, blocks)], *rest])

    def convert_batch_to_space_nd(self, op: Any) -> Any:
        """Split the batch into (blocks..., batch / blocks), interleave each block axis after
        its spatial axis, merge them and crop (TFLite's batch_to_space_nd.cc)."""
        from tvm import relax

        _, x, shape, blocks, crops = self._block_args(op)
        m, rest = len(blocks), shape[1 + len(blocks) :]
        batch = shape[0] // int(np.prod(blocks))
        x = relax.op.reshape(x, [*blocks, batch, *shape[1:]])
        order = [m]
        for i in range(m):
            order += [m + 1 + i, i]
        x = relax.op.permute_dims(x, [*order, *range(2 * m + 1, 2 * m + 1 + len(rest))])
        grown = [shape[1 + i] * blocks[i] for i in range(m)]
        x = relax.op.reshape(x, [batch, *grown, *rest])
        if not crops.any():
            return x
        axes = list(range(1, 1 + m))
        ends = [g - int(c[1]) for g, c in zip(grown, crops, strict=True)]
        return relax.op.strided_slice(x, axes, [int(c[0]) for c in crops], ends)
