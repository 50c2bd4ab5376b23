"""AMX tile kernels (quant.amx) for deep int8 1x1 convs: exact against TFLite's reference math
on this host when it has AMX-INT8, and used in a model exactly where the target has it."""

from __future__ import annotations

import re

import numpy as np
import pytest
from int8_support import tflite_mbqm

from edgetune.board import load_board
from edgetune.frontend import load_model
from edgetune.paths import MODELS_DIR
from edgetune.quant import amx
from edgetune.quant.fixed_point import ChannelRequantization, quantize_multiplier
from edgetune.quant.operands import VNNI, pack_weight
from edgetune.tasks import lower

AMX_TARGET = {"kind": "llvm", "mcpu": "sapphirerapids", "num-cores": 2}
HOST_HAS_AMX = amx.has_amx(load_board("host").target())


@pytest.mark.parametrize(
    ("spatial", "depth", "channels", "acc_tiles", "k"),
    [
        ((1, 7, 7), 320, 64, 4, 16),  # 49 pixels: the last tile reads a zero-padded copy
        ((1, 2, 8), 192, 48, 3, 16),  # 16 pixels, 3 accumulator tiles
        ((1, 1, 1), 200, 32, 2, 10),  # one pixel; 50 weight rows: tile products of 10
    ],
)
def test_kernel_matches_tflite_reference_math(spatial, depth, channels, acc_tiles, k):
    import tvm

    pixels = int(np.prod(spatial))
    plan = amx.plan(pixels, depth, channels)
    assert (plan.acc_tiles, plan.k) == (acc_tiles, k)
    rng = np.random.default_rng(depth)
    x = rng.integers(0, 256, (*spatial, depth), dtype=np.uint8)
    w = rng.integers(-128, 128, (1, 1, channels, depth), dtype=np.int8)
    bias = rng.integers(-20000, 20000, channels)
    mult, shift = quantize_multiplier(rng.uniform(1e-5, 3e-3, channels))
    fixed = ChannelRequantization.fit(mult, shift, zp=-5, bias=bias)
    lo, hi = -128, 100  # a fused activation's narrower clamp
    func = amx.conv1x1_requantized(plan, spatial, 2, "int8", lo, hi)
    lib = tvm.compile(tvm.IRModule({"main": func.with_attr("global_symbol", "main")}), AMX_TARGET)
    if not HOST_HAS_AMX:  # compiles anywhere, runs only on AMX hosts
        return
    dev = tvm.cpu()
    args = [tvm.runtime.tensor(a, dev) for a in (x, pack_weight(w, VNNI[0]), *fixed.arrays())]
    out = tvm.runtime.tensor(np.zeros((*spatial, channels), np.int8), dev)
    lib["main"](*args, out)
    acc = x.reshape(pixels, depth).astype(np.int64) @ w.reshape(channels, depth).T.astype(np.int64)
    expected = [
        [min(max(tflite_mbqm(int(a) + int(b), int(m), int(s)) - 5, lo), hi) for a, b, m, s in
         zip(row, bias, mult, shift)]
        for row in acc
    ]  # fmt: skip
    assert np.array_equal(out.numpy().reshape(pixels, channels), np.array(expected))


def test_host_target_claims_exactly_the_vector_features_the_cpu_reports():
    """LLVM's name for a virtual CPU may imply features the hypervisor hides (an Emerald
    Rapids guest without AMX: tile kernels would fault) or lack ones it exposes: the host
    board's target follows /proc/cpuinfo's flags for every feature edgetune's kernels use."""
    from tvm.target.codegen import target_has_features

    from edgetune.board.board import HOST_FLAG_FEATURES, cpu_flags

    flags = cpu_flags()
    assert flags  # Linux reports them
    target = load_board("host").target()
    claimed = {f: bool(target_has_features(f, target)) for f in HOST_FLAG_FEATURES.values()}
    assert claimed == {f: flag in flags for flag, f in HOST_FLAG_FEATURES.items()}


def test_model_uses_amx_exactly_where_the_target_has_it(tmp_path):
    """MobileNetV2 int8: its 14 deep 1x1 convs (9 shapes) become AMX kernels on an AMX target,
    none on the same target with AMX turned off (a board's `mattr = ["-amx-int8"]`)."""
    import tvm

    model = load_model(MODELS_DIR / "mobilenet_v2_int8.tflite")

    def amx_kernels(target) -> int:
        mod = lower(model.mod, tvm.target.Target(target))
        names = [gv.name_hint for gv, _ in mod.functions_items()]
        # no kernel of its own for an int8 -> uint8 shift: producers write uint8 directly
        # (AMX kernels too), int8 readers (the residual ADDs) unshift in their prologue
        assert not [n for n in names if re.fullmatch(r"fused_cast\d+_add\d+_cast\d+", n)]
        return sum(1 for n in names if n.startswith("amx_conv"))

    assert amx_kernels(AMX_TARGET) == 9
    assert amx_kernels({**AMX_TARGET, "mattr": ["-amx-int8"]}) == 0
    host = load_board("host").target()
    assert amx_kernels(host) == (9 if HOST_HAS_AMX else 0)
