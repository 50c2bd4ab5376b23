"""RFFT2D as a radix-2 FFT of TE kernels.

TVM 0.27's converter emits its FFT as one IR-builder PrimFunc, unrolled (7.9 MB of TIR for a
2048-point transform over 43 frames) and ill-formed for s_tir schedules and for Relax's
SplitLayoutRewritePreproc: models with tf.signal.stft (BirdNET, spectrogram front ends) did not
build. Here the transform of each row is log2(N) radix-2 butterfly levels (decimation in time,
the first reading the input in bit-reversed order), LEVELS a kernel, each kernel its own opaque
task MetaSchedule tunes (parallel, vectorized), with float32 twiddle constants computed in
float64. The last kernel computes only the N/2 + 1 bins RFFT2D keeps. Each kernel is a pass over
all rows in memory (BirdNET: 511 rows of 2048, 8 MB, ~0.7 ms a pass). The kernels pick real
and imaginary parts by arithmetic on the component index, not by Select: with a Select on it,
LLVM (apache-tvm 0.27, -mcpu=znver5) miscompiled the 8- and 16-wide stages (errors of 8 and
1e10 on unit inputs; generic x86-64 and the arithmetic form are exact). fft_length must be
[1, N] with N a power of two matching the row length (tf.signal.rfft / stft); other shapes keep
the stock converter.
"""

from __future__ import annotations

from typing import Any

import numpy as np

OPAQUE = 8  # relax OpPatternKind kOpaque: FuseOps leaves the kernel alone


# butterfly levels a kernel. Two (radix 4, 9 reads an output) were compute-bound: in BirdNET's
# 1000-trial build its FFT kernels took 1.3-2.0 ms each against ~0.7 ms a radix-2 pass
LEVELS = 1


def _bit_reversed(x: Any, n: int) -> Any:
    """Reads of (B, N) real rows as complex values in bit-reversed order: (b, i, c) -> value."""
    bits = n.bit_length() - 1

    def read(b: Any, i: Any, c: Any) -> Any:
        rev = sum(((i >> k) & 1) << (bits - 1 - k) for k in range(bits))
        return x[b, rev] * (1 - c).astype("float32")  # imaginary parts 0

    return read


def fft_butterflies(
    a: Any, twiddles: Any, spans: tuple[int, ...], bins: int, bit_reversed: bool
) -> Any:
    """Consecutive decimation-in-time levels in one kernel: at a level of span m, over groups
    of m values, out[top] = v[top] + w v[bot], out[bot] = v[top] - w v[bot] with
    w = exp(-2 pi i q / m), v the previous level's values (written out as expressions, so one
    pass over memory does several levels). The first kernel reads the real rows `a` (B, N) in
    bit-reversed order; the others the complex (B, N, 2) output of the one before. The first
    `bins` outputs."""
    from tvm import te

    n = int(a.shape[1])
    read = _bit_reversed(a, n) if bit_reversed else (lambda b, i, c: a[b, i, c])

    def level(k: int, b: Any, i: Any, c: Any) -> Any:
        if k < 0:
            return read(b, i, c)
        half, stride = spans[k] // 2, n // spans[k]
        p = i % spans[k]
        q = p % half
        top = i - p + q
        w = twiddles[q * stride, 0]
        # the imaginary part of w times the other component: -wi * bi (c = 0), wi * br (c = 1)
        cross = (c * 2 - 1).astype("float32") * twiddles[q * stride, 1]
        cross = cross * level(k - 1, b, top + half, 1 - c)
        sign = (1 - (p // half) * 2).astype("float32")
        return level(k - 1, b, top, c) + sign * (w * level(k - 1, b, top + half, c) + cross)

    def f(b: Any, i: Any, c: Any) -> Any:
        return level(len(spans) - 1, b, i, c)

    return te.compute((a.shape[0], bins, 2), f, name=f"fft_stage_{spans[-1]}")


class FourierTransforms:
    """Mixin for OperatorConverter: RFFT2D of rows (fft_length [1, N], N a power of two)."""

    def convert_rfft2d(self, op: Any) -> Any:
        from tvm import relax

        data, fft_length = self.get_input_tensors(op)
        length = self._known_value(fft_length)
        shape = [int(d) for d in self.get_tensor_shape(data)]
        n = int(length.reshape(-1)[-1]) if length is not None and length.size == 2 else 0
        if (
            length is None
            or int(length.reshape(-1)[0]) != 1
            or len(shape) < 2
            or shape[-2] != 1
            or shape[-1] != n
            or n < 2
            or n & (n - 1)
        ):
            return super().convert_rfft2d(op)
        rows = int(np.prod(shape[:-2], dtype=np.int64))
        k = np.arange(n // 2, dtype=np.float64)
        angle = -2.0 * np.pi * k / n
        twiddles = relax.const(np.stack([np.cos(angle), np.sin(angle)], -1).astype(np.float32))
        y = self.bb.emit(relax.op.reshape(self.get_tensor_expr(data), (rows, n)))
        spans = [1 << k for k in range(1, n.bit_length())]
        for start in range(0, len(spans), LEVELS):
            group = tuple(spans[start : start + LEVELS])
            bins = n // 2 + 1 if group[-1] == n else n
            y = self._opaque(
                fft_butterflies, y, twiddles, spans=group, bins=bins, bit_reversed=start == 0
            )
        return relax.op.reshape(y, (*shape[:-2], 1, n // 2 + 1, 2))

    def _opaque(self, func: Any, *args: Any, **kwargs: Any) -> Any:
        """`func`'s TE kernel, emitted as an opaque PrimFunc of its own."""
        return self.bb.emit_te(func, *args, **kwargs, primfunc_attrs={"op_pattern": OPAQUE})
