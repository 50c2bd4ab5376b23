"""Intel AMX tile kernels for int8 1x1 convolutions, on x86 targets that have AMX-INT8.

One `tdpbusd` multiplies a 16 x 4k tile of uint8 activations (16 pixels, 4k input channels) by a
k x 64-byte tile of int8 weights (4k inputs x 16 output channels, the layout `operands` packs
for VNNI) into 16 x 16 int32 accumulators: 1,024 multiply-adds per cycle per core, 16x what a
`vpdpbusd` does. LiteRT's XNNPACK runs its int8 1x1 convs on AMX on such hosts.

The kernel is written out, not searched: MetaSchedule can tensorize a 16x16x64 AMX intrinsic,
but then loads the tile configuration (`ldtilecfg`, about 100 ns) at every tile product and
round-trips the accumulators through memory. Here each thread loads the configuration once,
keeps up to four accumulator tiles for the whole reduction, then requantizes them
(`ChannelRequantization`) straight into the output. Pixel counts that are not a multiple of 16
read their last rows from a zero-padded copy, so no tile load runs past the input.

Linux gives a process the tile state only when asked (`arch_prctl(ARCH_REQ_XCOMP_PERM,
XFEATURE_XTILEDATA)`, process-wide, idempotent): each kernel asks at its start (about 0.2 us),
so a built library runs in any process, edgetune's or the user's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .fixed_point import requantize_channel, saturate

# Below this many input channels a conv's time is its requantization, not its products: on the
# host (2 threads) 14x14 96->576 and 28x28 32->192 ran faster as tuned VNNI kernels, every conv
# with 192 or more inputs faster here (docs/int8.md, "AMX tiles").
MIN_DEPTH = 192
# arch_prctl(ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) on Linux x86-64
ARCH_PRCTL_ARGS = (158, 0x1023, 18)
ROWS = 16  # pixels per tile
ROW_BYTES = 64  # bytes per tile row
LANES = 16  # int32 accumulators per row = output channels per weight tile
MAX_ACC_TILES = 4  # accumulator tiles per A tile (of 8 tiles: 4 C, 1 A, 3 B)
A_TILE, B_TILE, B_TILES = 4, 5, 3  # tiles 5-7 take the weights in turn


@dataclass(frozen=True)
class AmxPlan:
    """How one 1x1 conv maps onto tiles: `pixels` x `depth` (uint8) times `depth` x `channels`
    (int8); `k` weight rows (4 inputs each) per tile product, `acc_tiles` accumulator tiles."""

    pixels: int
    depth: int
    channels: int
    k: int
    acc_tiles: int

    @property
    def steps(self) -> int:
        return self.depth // (4 * self.k)

    @property
    def config(self) -> bytes:
        """The 64-byte palette-1 tile configuration: accumulators 16 x 64 B, A 16 x 4k B, the
        B tiles k x 64 B (a tile used without a shape is an illegal instruction)."""
        cfg = bytearray(64)
        cfg[0] = 1
        shapes = {t: (ROWS, ROW_BYTES) for t in range(self.acc_tiles)}
        shapes[A_TILE] = (ROWS, 4 * self.k)
        for tile in range(B_TILE, B_TILE + B_TILES):
            shapes[tile] = (self.k, ROW_BYTES)
        for tile, (rows, colsb) in shapes.items():
            cfg[16 + 2 * tile : 18 + 2 * tile] = colsb.to_bytes(2, "little")
            cfg[48 + tile] = rows
        return bytes(cfg)


def has_amx(target: Any) -> bool:
    """Whether `target` is an x86-64 llvm target with AMX-INT8."""
    from tvm.target.codegen import target_has_features

    if str(target.kind.name) != "llvm" or str(target.attrs.get("mtriple", "")).startswith(
        "aarch64"
    ):
        return False
    try:
        return bool(target_has_features("amx-int8", target))
    except Exception:  # a CPU name LLVM does not know
        return False


def plan(pixels: int, depth: int, channels: int) -> AmxPlan | None:
    """The tiling of a 1x1 conv, or None when it does not fit tiles (inputs not a multiple of
    4, outputs not a multiple of 16)."""
    if depth % 4 or channels % LANES:
        return None
    rows = depth // 4
    k = max(d for d in range(1, ROWS + 1) if rows % d == 0)
    acc = max(n for n in range(1, MAX_ACC_TILES + 1) if channels % (LANES * n) == 0)
    return AmxPlan(pixels, depth, channels, k, acc)


def _intrin(name: str, *args: Any) -> Any:
    from ..tvm_api import tirx

    return tirx.call_llvm_intrin("void", f"llvm.x86.{name}", *args)


def _load(tile: Any, pointer: Any, stride: int) -> Any:
    """tileloadd64: `tile`'s rows from `pointer`, `stride` bytes apart."""
    from ..tvm_api import tirx

    return _intrin("tileloadd64", tirx.Cast("uint8", tile), pointer, tirx.const(stride, "int64"))


def _store(tile: Any, pointer: Any, stride: int) -> Any:
    from ..tvm_api import tirx

    return _intrin("tilestored64", tirx.Cast("uint8", tile), pointer, tirx.const(stride, "int64"))


def _dot(acc: Any, a: Any, b: Any) -> Any:
    """tdpbusd: accumulator tile += uint8 tile x int8 tile."""
    from ..tvm_api import tirx

    return _intrin("tdpbusd", *(tirx.Cast("uint8", t) for t in (acc, a, b)))


def conv1x1_requantized(
    p: AmxPlan,
    spatial: tuple[int, ...],
    threads: int,
    out_dtype: str,
    lo: int,
    hi: int,
    nudge: bool = True,
) -> Any:
    """PrimFunc(data [*spatial, K] uint8, weight [1, 1, N/16, K/4, 16, 4] int8, the four
    ChannelRequantization constants [N] int32, out [*spatial, N]) for the shape in `p`
    (`spatial`: the data's leading dimensions, pixels = their product; `nudge=False`: constants
    from `ChannelRequantization.without_nudge`).

    Work items (16 pixels x 16 * acc_tiles channels) are split into one contiguous chunk per
    thread. Each item's accumulator tiles are stored into one half of a buffer while the
    vector units requantize the previous item from the other half: reading a tile store back
    at once stalls."""
    from ..tvm_api import T, s_tir

    pixels, depth, channels = p.pixels, p.depth, p.channels
    blocks = (pixels + ROWS - 1) // ROWS
    group = LANES * p.acc_tiles
    groups = channels // group
    work = blocks * groups
    chunk = (work + threads - 1) // threads
    tail = pixels % ROWS
    padded_block = blocks - 1 if tail else -1  # reads its rows from the zero-padded copy
    words = [int.from_bytes(p.config[i : i + 8], "little", signed=True) for i in range(0, 64, 8)]
    k_bytes = 4 * p.k
    w_tile = p.k * ROW_BYTES
    w_shape = (1, 1, channels // LANES, depth // 4, LANES, 4)

    def b_tile(j: Any) -> Any:  # weight tiles 5, 6, 7 in turn
        return B_TILE + j % B_TILES

    def requantized(acc: Any, c: Any, consts: tuple) -> Any:
        consts = (t[c] for t in consts)
        value = requantize_channel(acc, *consts, negatives=nudge, nudge=nudge)
        return saturate(value, lo, hi, out_dtype)

    @T.prim_func
    def kernel(
        data: T.handle, weight: T.handle, b: T.handle, m: T.handle, r: T.handle, s: T.handle,
        out: T.handle,
    ):  # fmt: skip
        T.func_attr({"tirx.noalias": True})
        data_nhwc = T.match_buffer(data, (*spatial, depth), "uint8")
        weight_packed = T.match_buffer(weight, w_shape, "int8")
        bias = T.match_buffer(b, (channels,), "int32")
        mult = T.match_buffer(m, (channels,), "int32")
        rounding = T.match_buffer(r, (channels,), "int32")
        shift = T.match_buffer(s, (channels,), "int32")
        out_nhwc = T.match_buffer(out, (*spatial, channels), out_dtype)
        x = T.decl_buffer((pixels * depth,), "uint8", data=data_nhwc.data)
        w = T.decl_buffer((channels * depth,), "int8", data=weight_packed.data)
        y = T.decl_buffer((pixels * channels,), out_dtype, data=out_nhwc.data)
        T.evaluate(T.call_extern("int64", "syscall", *ARCH_PRCTL_ARGS))
        for t in T.parallel(threads):
            cfg = T.alloc_buffer((8,), "int64", scope="local", align=64)
            cfg[0] = T.int64(words[0])
            cfg[1] = T.int64(words[1])
            cfg[2] = T.int64(words[2])
            cfg[3] = T.int64(words[3])
            cfg[4] = T.int64(words[4])
            cfg[5] = T.int64(words[5])
            cfg[6] = T.int64(words[6])
            cfg[7] = T.int64(words[7])
            T.evaluate(_intrin("ldtilecfg", cfg.access_ptr("r")))
            padded = T.alloc_buffer((ROWS * depth,), "uint8", scope="local", align=64)
            if tail > 0:
                for i in range(ROWS * depth):
                    last = (blocks - 1) * ROWS * depth + T.min(i, tail * depth - 1)
                    padded[i] = T.if_then_else(i < tail * depth, x[last], T.uint8(0))
            acc = T.alloc_buffer((2 * ROWS * group,), "int32", scope="local", align=64)
            count = T.max(T.min(chunk, work - t * chunk), 0)
            for n in range(count + 1):
                if n < count:
                    block = (t * chunk + n) // groups
                    first = (t * chunk + n) % groups * group
                    for j in T.unroll(p.acc_tiles):
                        T.evaluate(_intrin("tilezero", T.uint8(j)))
                    for step in range(p.steps):
                        if block == padded_block:
                            pad_rows = padded.access_ptr("r", offset=step * k_bytes)
                            T.evaluate(_load(A_TILE, pad_rows, depth))
                        else:
                            offset = block * ROWS * depth + step * k_bytes
                            T.evaluate(_load(A_TILE, x.access_ptr("r", offset=offset), depth))
                        for j in T.unroll(p.acc_tiles):
                            tile = (first // LANES + j) * (depth // 4) * ROW_BYTES + step * w_tile
                            T.evaluate(_load(b_tile(j), w.access_ptr("r", offset=tile), ROW_BYTES))
                            T.evaluate(_dot(j, A_TILE, b_tile(j)))
                    for j in T.unroll(p.acc_tiles):
                        half = n % 2 * ROWS * group + j * LANES
                        T.evaluate(_store(j, acc.access_ptr("w", offset=half), group * 4))
                if n > 0:
                    block = (t * chunk + n - 1) // groups
                    first = (t * chunk + n - 1) % groups * group
                    half = (n - 1) % 2 * ROWS * group
                    for part in range(p.acc_tiles):
                        for row in range(ROWS):
                            if block * ROWS + row < pixels:
                                for c in T.vectorized(LANES):  # no bindings in here
                                    y[
                                        (block * ROWS + row) * channels + first + part * LANES + c
                                    ] = requantized(
                                        acc[half + row * group + part * LANES + c],
                                        first + part * LANES + c,
                                        (bias, mult, rounding, shift),
                                    )
            T.evaluate(_intrin("tilerelease"))

    # named by the module it joins; one opaque block, as an IR-builder extern kernel has
    # (`tasks.lower.with_root_blocks` puts a root block around it and marks it FIXED_SCHEDULE)
    inner = s_tir.SBlock([], [], [], "amx_conv1x1", kernel.body)
    return kernel.with_body(s_tir.SBlockRealize([], True, inner)).without_attr("global_symbol")
