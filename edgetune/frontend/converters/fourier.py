"""RFFT2D as one fixed-schedule kernel: LANES rows transformed at a time, one per vector lane.

TVM 0.27's converter emits its FFT as one IR-builder PrimFunc, unrolled (7.9 MB of TIR for a
2048-point transform over 43 frames) and ill-formed for s_tir schedules and for Relax's
SplitLayoutRewritePreproc: models with tf.signal.stft (BirdNET, spectrogram front ends) did not
build. Here a real row of N values is transformed as N/2 complex values (even samples real, odd
imaginary) by a radix-2 decimation-in-time FFT, then split into the N/2 + 1 bins of the real
transform. Each parallel task takes LANES rows into a scratch buffer of LANES-wide vectors
(real and imaginary parts apart), so every butterfly level, whatever its span, is whole-vector
arithmetic; the rows come in and the bins go out TILE values at a time, which keeps the
transposition within a few cache lines. The twiddles are float32 constants computed in
float64. The kernel is written as loops (FIXED_SCHEDULE: not a tuning task); it replaced
log2(N) butterfly kernels that MetaSchedule tuned, each a pass over all rows in memory (BirdNET
on an AMD EPYC Zen 4 host, 2 threads, in the model: 511 rows of 2048 points took ~16 ms in 11
tuned passes and take 0.76 ms here; its 256-point transforms ~6 ms, now 0.35 ms). It is a
CPU kernel (parallel loops, marked CPU_ONLY): `tasks.lower` refuses it for GPU boards.
fft_length must be [1, N] with N a power of two (tf.signal.rfft / stft); rows shorter than N
are zero-padded, longer ones cropped (a 400-sample frame in a 512-point FFT); other shapes
keep the stock converter.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...quant.kernel_kind import CPU_ONLY

LANES = 8  # rows transformed together: a 256-bit vector of float32 (two NEON vectors)
TILE = 8  # complex values of a row moved at a time between memory and the lanes


def twiddle_table(n: int) -> np.ndarray:
    """(n + 1, 2) float32 (cos, sin): at [h + j] the twiddle exp(-2 pi i j / 2h) of the level
    of half-span h < n/2, at [n/2 + k] the real transform's exp(-2 pi i k / n), k <= n/2."""
    m = n // 2
    angles = np.zeros(n + 1)
    h = 1
    while h < m:
        angles[h : 2 * h] = -np.pi * np.arange(h) / h
        h *= 2
    angles[m:] = -2 * np.pi * np.arange(m + 1) / n
    return np.stack([np.cos(angles), np.sin(angles)], -1).astype(np.float32)


def rfft_rows(rows: int, n: int, width: int | None = None) -> Any:
    """PrimFunc (x (rows, width), twiddle_table(n)) -> (rows, n/2 + 1, 2): each row's real FFT
    of length n, the row zero-padded or cropped to n as TFLite's RFFT2D does (width: n)."""
    from ...tvm_api import T, s_tir

    width = n if width is None else width
    m = n // 2
    bits = m.bit_length() - 1
    tile = min(TILE, m)
    half = T.float32(0.5)

    def rev(i: Any) -> Any:
        return sum(((i >> k) & 1) << (bits - 1 - k) for k in range(bits))

    def row(block: Any, r: Any) -> Any:  # lanes past the last row repeat it (same values)
        return T.min(block * LANES + r, rows - 1)

    def bin_(kt: Any, i: Any) -> Any:  # the last tile repeats bin m
        return T.min(kt * tile + i, m)

    def sample(x: Any, block: Any, r: Any, c: Any) -> Any:  # zero past the row end
        if width >= n:
            return x[row(block, r), c]
        return T.if_then_else(c < width, x[row(block, r), T.min(c, width - 1)], T.float32(0))

    @T.prim_func
    def kernel(
        x: T.Buffer((rows, width), "float32"),
        tw: T.Buffer((n + 1, 2), "float32"),
        out: T.Buffer((rows, m + 1, 2), "float32"),
    ):
        T.func_attr({"tirx.noalias": True})
        for block in T.parallel((rows + LANES - 1) // LANES):
            re = T.alloc_buffer((m, LANES), "float32")
            im = T.alloc_buffer((m, LANES), "float32")
            tr = T.alloc_buffer((LANES,), "float32", scope="local")
            ti = T.alloc_buffer((LANES,), "float32", scope="local")
            bre = T.alloc_buffer((tile, LANES), "float32", scope="local")
            bim = T.alloc_buffer((tile, LANES), "float32", scope="local")
            for mt in range(m // tile):  # in, bit-reversed: z[i] = x[2i] + i x[2i + 1]
                for r in range(LANES):
                    for i in T.unroll(tile):
                        re[rev(mt * tile + i), r] = sample(x, block, r, (mt * tile + i) * 2)
                        im[rev(mt * tile + i), r] = sample(x, block, r, (mt * tile + i) * 2 + 1)
            for s in range(bits):  # butterflies of half-span 2^s, done in place
                for g in range(m >> (s + 1)):
                    for j in range(1 << s):
                        for r in T.vectorized(LANES):  # t = w * z[bottom]
                            tr[r] = (
                                re[g * (2 << s) + j + (1 << s), r] * tw[(1 << s) + j, 0]
                                - im[g * (2 << s) + j + (1 << s), r] * tw[(1 << s) + j, 1]
                            )
                            ti[r] = (
                                re[g * (2 << s) + j + (1 << s), r] * tw[(1 << s) + j, 1]
                                + im[g * (2 << s) + j + (1 << s), r] * tw[(1 << s) + j, 0]
                            )
                        for r in T.vectorized(LANES):  # bottom = top - t
                            re[g * (2 << s) + j + (1 << s), r] = re[g * (2 << s) + j, r] - tr[r]
                            im[g * (2 << s) + j + (1 << s), r] = im[g * (2 << s) + j, r] - ti[r]
                        for r in T.vectorized(LANES):  # top = top + t
                            re[g * (2 << s) + j, r] = re[g * (2 << s) + j, r] + tr[r]
                            im[g * (2 << s) + j, r] = im[g * (2 << s) + j, r] + ti[r]
            for kt in range(m // tile + 1):  # out: X[k] = E[k] + w_k O[k]
                for i in range(tile):
                    for r in T.vectorized(LANES):
                        # E = (Z[k] + conj Z[m - k]) / 2, O = -i (Z[k] - conj Z[m - k]) / 2
                        bre[i, r] = (
                            (re[bin_(kt, i) % m, r] + re[(m - bin_(kt, i)) % m, r]) * half
                            + tw[m + bin_(kt, i), 0]
                            * (im[bin_(kt, i) % m, r] + im[(m - bin_(kt, i)) % m, r])
                            * half
                            - tw[m + bin_(kt, i), 1]
                            * (re[(m - bin_(kt, i)) % m, r] - re[bin_(kt, i) % m, r])
                            * half
                        )
                        bim[i, r] = (
                            (im[bin_(kt, i) % m, r] - im[(m - bin_(kt, i)) % m, r]) * half
                            + tw[m + bin_(kt, i), 0]
                            * (re[(m - bin_(kt, i)) % m, r] - re[bin_(kt, i) % m, r])
                            * half
                            + tw[m + bin_(kt, i), 1]
                            * (im[bin_(kt, i) % m, r] + im[(m - bin_(kt, i)) % m, r])
                            * half
                        )
                for r in range(LANES):
                    for i in T.unroll(tile):
                        out[row(block, r), bin_(kt, i), 0] = bre[i, r]
                        out[row(block, r), bin_(kt, i), 1] = bim[i, r]

    # one opaque block, as an IR-builder extern kernel has (`tasks.lower.with_root_blocks`
    # puts a root block around it and marks it FIXED_SCHEDULE)
    inner = s_tir.SBlock([], [], [], "rfft_rows", kernel.body)
    return kernel.with_body(s_tir.SBlockRealize([], True, inner)).with_attr(CPU_ONLY, "RFFT2D")


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
            or n < 2
            or n & (n - 1)
        ):
            return super().convert_rfft2d(op)
        rows = int(np.prod(shape[:-2], dtype=np.int64))
        x = self.bb.emit(relax.op.reshape(self.get_tensor_expr(data), (rows, shape[-1])))
        kernel = self.bb.add_func(rfft_rows(rows, n, shape[-1]), "rfft_rows")
        bins = relax.TensorType((rows, n // 2 + 1, 2), "float32")
        y = self.bb.emit(relax.call_tir(kernel, [x, relax.const(twiddle_table(n))], out_ty=bins))
        return relax.op.reshape(y, (*shape[:-2], 1, n // 2 + 1, 2))
