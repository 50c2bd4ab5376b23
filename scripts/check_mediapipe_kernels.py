"""edgetune against MediaPipe's own kernels for a model with MediaPipe custom ops (one-off check).

    python scripts/check_mediapipe_kernels.py MODEL.tflite --mediapipe-python /tmp/mpvenv/bin/python
        [--seeds 0 1 2]

LiteRT's Python package cannot run MediaPipe's custom ops, but MediaPipe's own Python package
can, inside a MediaPipe graph: ImageToTensorCalculator (a seeded random RGB image -> the
model's input tensor, float range [0, 1]) -> InferenceCalculator with MediaPipe's custom-op
resolver (TFLite CPU kernels) -> every output tensor as floats. mediapipe is not an edgetune
dependency (it pins old numpy/protobuf): give the Python of a separate venv that has it, e.g.
`python -m venv /tmp/mpvenv && /tmp/mpvenv/bin/pip install mediapipe==0.10.14`.
That Python runs this file with `--mediapipe-run`; edgetune (untuned host build) and the
LiteRT reference edgetune's conformance uses then run on the exact input tensor
MediaPipe used (oracle/reference: builtin-equivalent ops substituted, others in NumPy). Prints
max |diff| / max |MediaPipe| per output.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

GRAPH = """
input_stream: "image"
output_stream: "input"
node {{ calculator: "ImageToTensorCalculator" input_stream: "IMAGE:image"
  output_stream: "TENSORS:input_tensors"
  options {{ [mediapipe.ImageToTensorCalculatorOptions.ext] {{
    output_tensor_width: {width} output_tensor_height: {height}
    output_tensor_float_range {{ min: 0.0 max: 1.0 }} }} }} }}
node {{ calculator: "TensorsToFloatsCalculator" input_stream: "TENSORS:input_tensors"
  output_stream: "FLOATS:input" }}
node {{ calculator: "TfLiteCustomOpResolverCalculator" output_side_packet: "OP_RESOLVER:resolver" }}
node {{ calculator: "InferenceCalculator" input_stream: "TENSORS:input_tensors"
  input_side_packet: "OP_RESOLVER:resolver" output_stream: "TENSORS:output_tensors"
  options {{ [mediapipe.InferenceCalculatorOptions.ext] {{
    model_path: "{model}" delegate {{ tflite {{}} }} }} }} }}
node {{ calculator: "SplitTensorVectorCalculator" input_stream: "output_tensors" {split_out}
  options {{ [mediapipe.SplitVectorCalculatorOptions.ext] {{ {ranges} }} }} }}
"""


def mediapipe_run(model: Path, height: int, width: int, outputs: int, seed: int, out: Path):
    """In mediapipe's Python: the model on a seeded random image; input and outputs to `out`."""
    from google.protobuf import text_format
    from mediapipe.framework import calculator_pb2
    from mediapipe.python import packet_creator, packet_getter
    from mediapipe.python._framework_bindings import calculator_graph, image_frame

    names = [f"output{i}" for i in range(outputs)]
    text = GRAPH.format(
        width=width,
        height=height,
        model=model.resolve(),
        split_out=" ".join(f'output_stream: "t{i}"' for i in range(outputs)),
        ranges=" ".join(f"ranges: {{ begin: {i} end: {i + 1} }}" for i in range(outputs)),
    )
    text += "".join(f'output_stream: "{n}"\n' for n in names)
    text += "".join(
        f'node {{ calculator: "TensorsToFloatsCalculator" input_stream: "TENSORS:t{i}" '
        f'output_stream: "FLOATS:{n}" }}\n'
        for i, n in enumerate(names)
    )
    graph = calculator_graph.CalculatorGraph(
        graph_config=text_format.Parse(text, calculator_pb2.CalculatorGraphConfig())
    )
    got: dict[str, np.ndarray] = {}
    for name in ["input", *names]:
        graph.observe_output_stream(
            name, lambda s, p: got.__setitem__(s, np.array(packet_getter.get_float_list(p)))
        )
    graph.start_run()
    image = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    frame = packet_creator.create_image_frame(data=image, image_format=image_frame.ImageFormat.SRGB)
    graph.add_packet_to_input_stream("image", frame.at(0))
    graph.close()
    np.savez(out, **got)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path)
    parser.add_argument(
        "--mediapipe-python", help="a Python that has mediapipe installed (required)"
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--mediapipe-run", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.mediapipe_run:
        h, w, n, seed, out = args.mediapipe_run
        mediapipe_run(args.model, int(h), int(w), int(n), int(seed), Path(out))
        return 0
    if not args.mediapipe_python:
        parser.error("--mediapipe-python is required (a Python that has mediapipe installed)")
    from edgetune.board import load_board
    from edgetune.compile import build_model
    from edgetune.frontend import load_model
    from edgetune.oracle.reference import litert_reference
    from edgetune.runtime import load_executable

    model = load_model(args.model)
    shapes = [t.shape for t in model.info.inputs]
    if len(shapes) != 1 or len(shapes[0]) != 4:
        parser.error(f"{args.model}: not an image model (one NHWC input), inputs {shapes}")
    (shape,) = shapes
    outputs = len(model.info.outputs)
    ours = load_executable(build_model(model, load_board("host"), None).exe, 1, info=model.info)
    reference = litert_reference(args.model.read_bytes())
    for seed in args.seeds:
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "mediapipe.npz"
            run = [str(v) for v in (shape[1], shape[2], outputs, seed, out)]
            cmd = [args.mediapipe_python, __file__, str(args.model), "--mediapipe-run", *run]
            subprocess.run(cmd, check=True, capture_output=True)
            got = np.load(out)
            x = got["input"].reshape(shape).astype(np.float32)
            want = [got[f"output{i}"] for i in range(outputs)]
        for name, engine in (("edgetune", ours), (reference.name, reference.run)):
            errors = [
                float(np.abs(o.reshape(-1) - r).max() / max(np.abs(r).max(), 1e-6))
                for o, r in zip(engine([x]), want)
            ]
            print(
                f"seed {seed}: {name} vs MediaPipe: worst {max(errors):.2g} per output "
                + " ".join(f"{e:.1g}" for e in errors)
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
