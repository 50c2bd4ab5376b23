"""`edgetune ops`: the TFLite operators edgetune imports, and which run on int8 tensors."""

from __future__ import annotations

from ..frontend.converters import (
    CUSTOM_OP_VERSIONS,
    QUANTIZED_MOVES,
    supported_ops,
    supported_quantized_ops,
)
from ..quant import INTEGER_OPS
from .output import report
from .output_args import add_json_arg


def register(sub) -> None:
    p = sub.add_parser(
        "ops",
        help="list the TFLite operators edgetune supports",
        description="List every TFLite operator edgetune imports (builtins and CUSTOM:Name "
        "custom ops, with the versions of each it computes), the ones it accepts in int8/uint8 "
        "models, and those with integer kernels of its own. A model with any other operator is "
        "refused at import with the op's name and count (a custom op in another version: with "
        "its version): re-export it without that op, or cut the model there.",
    )
    add_json_arg(p)
    p.set_defaults(func=run)


def run(args) -> int:
    ops, quantized = sorted(supported_ops()), sorted(supported_quantized_ops())
    data = {
        "ops": ops,
        "quantized_ops": quantized,
        "integer_kernels": list(INTEGER_OPS),
        "quantized_data_movement": sorted(QUANTIZED_MOVES),
        "custom_op_versions": {
            f"CUSTOM:{k}": list(v) for k, v in sorted(CUSTOM_OP_VERSIONS.items())
        },
    }
    versions = ", ".join(
        f"{k} v{'/v'.join(map(str, v))}" for k, v in data["custom_op_versions"].items()
    )
    lines = [
        f"{len(ops)} operators: {', '.join(ops)}",
        f"custom op versions: {versions}",
        f"in int8/uint8 models ({len(quantized)}): {', '.join(quantized)}",
        f"integer kernels: {', '.join(INTEGER_OPS)}; moved as integers: "
        f"{', '.join(sorted(QUANTIZED_MOVES))}; the others run dequantize -> float -> quantize",
    ]
    report(args, data, lines)
    return 0
