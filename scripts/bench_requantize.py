"""Cost per output of the int8 requantization epilogues, side by side in one run.

Times each form edgetune can put behind an int8 conv, alone: an int32 accumulator
[pixels, channels] -> int8, vectorized over 16 channels, built with edgetune's TIR pipeline for
the host board and run on one thread (no thread pool: the forms can share a process).

- fixed, linear: TFLite's per-channel fixed point (ChannelRequantization, bit-exact) for an
  output zero point above the clamp's lower bound (a conv without activation);
- fixed, after ReLU: the same where the clamp starts at the zero point (no correction of
  negative products), with SRDHM's 2^30 added or folded into the constants
  (`ChannelRequantization.without_nudge`, as the rewrite does under such a clamp);
- generic: multiply_by_quantized_multiplier after a separate bias add (the fallback for shifts
  the per-channel form does not take);
- fp32: XNNPACK's float32 requantization (`--requantize fp32`, not bit-exact).

Two loop orders: channels innermost (the constants loaded with every vector) and pixels
innermost (the constants hoisted out of the loop). The fixed-point forms' outputs are checked
equal to the generic form's. Prints a table and writes JSON.

    python scripts/bench_requantize.py --json requantize.json
"""

from __future__ import annotations

import argparse
import json
from typing import Any

import numpy as np

PIXELS, CHANNELS, LANES = 3136, 144, 16


def _constants(zp: int, nudge: bool) -> dict[str, Any]:
    """A realistic conv's scales (input 0.02, output 0.1, weights 0.002-0.02 per channel)."""
    from edgetune.quant.fixed_point import ChannelRequantization, quantize_multiplier
    from edgetune.quant.float_requantization import FloatRequantization

    rng = np.random.default_rng(0)
    w_scale = rng.uniform(0.002, 0.02, CHANNELS).astype(np.float32)
    x_scale, o_scale = np.float32(0.02), np.float32(0.1)
    bias = rng.integers(-2000, 2000, CHANNELS).astype(np.int32)
    real = np.float64(x_scale) * w_scale.astype(np.float64) / np.float64(o_scale)
    mult, shift = quantize_multiplier(real)
    fixed = ChannelRequantization.fit(mult, shift, zp, bias)
    if not nudge:
        fixed = fixed.without_nudge(zp, -128, 127, np.abs(bias) + (1 << 26))
    return {
        "fixed": fixed.arrays(),
        "generic": (bias, mult, shift),
        "fp32": FloatRequantization.xnnpack(x_scale, w_scale, o_scale, bias).arrays(),
    }


def _kernel(form: str, zp: int, nudge: bool) -> tuple[Any, list[np.ndarray]]:
    """The form's PrimFunc (acc, constants..., out) and its constants."""
    from tvm import te

    from edgetune.quant import kernels

    consts = _constants(zp, nudge)[form]
    acc = te.placeholder((PIXELS, CHANNELS), "int32", name="acc")
    tensors = [
        te.placeholder((CHANNELS,), str(c.dtype), name=f"c{i}") for i, c in enumerate(consts)
    ]
    clamp = (-128, 127, "int8")
    if form == "fixed":
        out = kernels.requantize_per_channel_fixed(acc, *tensors, clamp=clamp, zp=zp, nudge=nudge)
    elif form == "generic":
        bias, mult, shift = tensors
        biased = te.compute(acc.shape, lambda p, c: acc[p, c] + bias[c], name="biased")
        out = kernels.requantize_per_channel(biased, mult, shift, zp=zp, clamp=clamp)
    else:
        out = kernels.requantize_per_channel_float(acc, *tensors, zp=zp, clamp=clamp)
    return te.create_prim_func([acc, *tensors, out]), list(consts)


def _build(func: Any, form: str, pixels_inner: bool) -> Any:
    from edgetune.board import load_board
    from edgetune.lowering.pipeline import tir_pipeline
    from edgetune.tvm_api import driver, s_tir

    sch = s_tir.Schedule(func)
    if form == "generic":
        sch.compute_inline(sch.get_sblock("biased"))
    block = sch.get_sblock("requantize")
    pixel, channel = sch.get_loops(block)
    outer, inner = sch.split(channel, [None, LANES])
    if pixels_inner:
        sch.reorder(outer, pixel, inner)
    sch.vectorize(inner)
    return driver.build(sch.mod, target=load_board("host").target(), pipeline=tir_pipeline())


def main() -> None:
    import tvm

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", help="write the results here")
    parser.add_argument("--repeat", type=int, default=10)
    args = parser.parse_args()

    forms = [
        ("fixed, linear", "fixed", 3, True),
        ("fixed, after ReLU", "fixed", -128, True),
        ("fixed, after ReLU, 2^30 folded", "fixed", -128, False),
        ("generic", "generic", 3, True),
        ("fp32", "fp32", 3, True),
    ]
    acc = np.random.default_rng(1).integers(-20000, 60000, (PIXELS, CHANNELS)).astype(np.int32)
    dev = tvm.cpu()
    rows, outputs = [], {}
    for pixels_inner in (False, True):
        for name, form, zp, nudge in forms:
            func, consts = _kernel(form, zp, nudge)
            lib = _build(func, form, pixels_inner)
            ins = [tvm.runtime.tensor(a, dev) for a in (acc, *consts)]
            out = tvm.runtime.tensor(np.zeros((PIXELS, CHANNELS), np.int8), dev)
            timer = lib.time_evaluator(lib.entry_name, dev, number=200, repeat=args.repeat)
            secs = float(np.median(timer(*ins, out).results))
            outputs[(name, pixels_inner)] = out.numpy()
            order = "pixels innermost" if pixels_inner else "channels innermost"
            rows.append({"form": name, "order": order, "ns_per_output": secs * 1e9 / acc.size})
        exact = outputs[("fixed, linear", pixels_inner)]
        assert np.array_equal(exact, outputs[("generic", pixels_inner)])
        relu = outputs[("fixed, after ReLU", pixels_inner)]
        assert np.array_equal(relu, outputs[("fixed, after ReLU, 2^30 folded", pixels_inner)])

    print(f"{PIXELS}x{CHANNELS} int32 -> int8, {LANES} lanes, one thread, median of {args.repeat}")
    print(f"| {'form':<30} | {'loop order':<18} | ns per output |")
    print(f"|{'-' * 32}|{'-' * 20}|{'-' * 15}|")
    for r in rows:
        print(f"| {r['form']:<30} | {r['order']:<18} | {r['ns_per_output']:>13.3f} |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"pixels": PIXELS, "channels": CHANNELS, "lanes": LANES, "rows": rows}, f)


if __name__ == "__main__":
    main()
