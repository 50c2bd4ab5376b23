"""Layer by layer: every operator of a model as a one-op model, timed in LiteRT and in edgetune.

Finds the kernels where LiteRT (XNNPACK) is ahead. Each operator of the .tflite is written out as
a model of its own (its constant inputs kept as weights, the others made model inputs); edgetune
builds it with the whole model's records (a one-op model's kernel is the same task as in the
whole model, so its tuned schedule applies), LiteRT runs it with its default delegate. Each
engine is timed in a process of its own (all layers of one engine in one process, warm caches:
the same conditions for both), --rounds rounds alternating the engines; reported per layer: the
median over rounds of each round's median, and edgetune / LiteRT.

  python scripts/bench_layers.py mobilenet_v2_fp32 --records recs/fp32 --json layers.json

One-op models are timed warm and alone; inside the model a kernel meets its input fresh from the
kernel before it (LiteRT ran the whole fp32 MobileNetV2 in 0.9x the sum of its one-op layers,
edgetune in 1.0x). `--prefixes 4,11,22` times the model's first 4, 11, 22, ... operators
instead (each a model whose output is its last operator's), and reports each stage between two
cuts as the difference of their times: per stage, both engines as they run inside the model.

  python scripts/bench_layers.py mobilenet_v2_fp32 --records recs/fp32 --prefixes 4,11,22,48,62,64
"""

from __future__ import annotations

import argparse
import copy
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from statistics import median


def op_models(model_path: Path, out: Path) -> list[dict]:
    """Write each operator of the model's first subgraph as a .tflite of its own."""
    from ai_edge_litert import schema_py_generated as schema

    whole = schema.ModelT.InitFromPackedBuf(model_path.read_bytes(), 0)
    graph = whole.subgraphs[0]
    names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    layers = []
    for index, op in enumerate(graph.operators):
        one = schema.ModelT()
        one.version, one.description = whole.version, b"edgetune layer"
        one.operatorCodes = [whole.operatorCodes[op.opcodeIndex]]
        one.buffers = [schema.BufferT()]
        sub = schema.SubGraphT()
        sub.tensors, sub.inputs, remap = [], [], {}
        for t in [i for i in op.inputs if i >= 0] + list(op.outputs):
            if t in remap:
                continue
            tensor = copy.copy(graph.tensors[t])
            data = whole.buffers[tensor.buffer].data if tensor.buffer else None
            if data is not None and len(data):
                one.buffers.append(whole.buffers[tensor.buffer])
                tensor.buffer = len(one.buffers) - 1
            else:
                tensor.buffer = 0
                if t not in op.outputs:
                    sub.inputs.append(len(sub.tensors))
            remap[t] = len(sub.tensors)
            sub.tensors.append(tensor)
        sub.outputs = [remap[t] for t in op.outputs]
        one_op = copy.copy(op)
        one_op.opcodeIndex = 0
        one_op.inputs = [remap[i] if i >= 0 else -1 for i in op.inputs]
        one_op.outputs = sub.outputs
        sub.operators = [one_op]
        one.subgraphs = [sub]
        layers.append(_written(one, out / f"layer{index:03d}.tflite", whole, index, names))
    return layers


def _written(model, path: Path, whole, index: int, names: dict) -> dict:
    """Write `model` (a ModelT) to `path`; its row: the whole model's operator `index` (the
    model's last), its type and output shape."""
    import flatbuffers

    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    path.write_bytes(builder.Output())
    op = whole.subgraphs[0].operators[index]
    kind = names.get(whole.operatorCodes[op.opcodeIndex].builtinCode, "?")
    shape = "x".join(map(str, whole.subgraphs[0].tensors[op.outputs[0]].shape))
    return {"index": index, "op": kind, "out_shape": shape, "path": str(path)}


def prefix_models(model_path: Path, out: Path, cuts: list[int]) -> list[dict]:
    """Write the model's first k operators (k in `cuts`) as models of their own, whose output is
    operator k-1's first output."""
    from ai_edge_litert import schema_py_generated as schema

    whole = schema.ModelT.InitFromPackedBuf(model_path.read_bytes(), 0)
    graph = whole.subgraphs[0]
    if len(whole.subgraphs) != 1 or not cuts or cuts != sorted(set(cuts)):
        raise SystemExit("bench_layers: --prefixes needs rising cuts of a one-subgraph model")
    if cuts[0] < 1 or cuts[-1] > len(graph.operators):
        raise SystemExit(f"bench_layers: cuts must lie in 1..{len(graph.operators)}")
    names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    operators, layers = graph.operators, []
    for k in cuts:
        graph.operators, graph.outputs = operators[:k], [operators[k - 1].outputs[0]]
        layers.append(_written(whole, out / f"prefix{k:03d}.tflite", whole, k - 1, names))
    return layers


def build_layers(layers: list[dict], args, out: Path) -> None:
    """edgetune libraries of the one-op models with the whole model's records."""
    from edgetune.board import load_board
    from edgetune.compile import export_model
    from edgetune.compile.library import BuiltModel, compile_with_records
    from edgetune.frontend import find_model, load_model
    from edgetune.records import RecordStore, applicable_database, best_latency_in, database_of
    from edgetune.records.manifest import tuned_requantization
    from edgetune.tasks import for_model

    board = load_board(args.board)
    requantization = tuned_requantization(args.records)  # an int8 folder's, as tune took it
    whole = load_model(find_model(args.model), requantization=requantization)
    chosen = database_of(RecordStore(args.records, whole.info, board, create=False))
    for layer in layers:
        model = load_model(Path(layer["path"]), requantization=requantization)
        tasks = for_model(model, board)
        # a layer cut out alone can lose its epilogue (a projection conv without the residual
        # add it has in the model): the model's trace then does not apply and it stays untuned
        database = applicable_database(chosen, [t.mod for t in tasks])
        latencies = [best_latency_in(database, t.mod) for t in tasks]
        tuned = [s for s in latencies if s is not None]
        unapplied: list[str] = []
        exe = compile_with_records(tasks, database, unapplied=unapplied)
        built = BuiltModel(exe, tasks, database, len(tuned), len(tasks), unapplied)
        layer["artifact"] = str(
            export_model(built, model, board, out / f"{Path(layer['path']).stem}.so").path
        )
        layer["tuned"] = f"{len(tuned)}/{len(tasks)}"
        layer["estimate_ms"] = sum(tuned) * 1e3


def time_layers(spec: dict) -> list[float]:
    """In a fresh process: one engine, every layer warmed up then timed; median ms per layer."""
    from edgetune.frontend import load_model
    from edgetune.runtime import load_artifact
    from edgetune.runtime.inputs import random_inputs

    result = []
    for layer in spec["layers"]:
        model = load_model(Path(layer["path"]))
        inputs = random_inputs(model.info, 0)
        if spec["engine"] == "litert":
            from edgetune.oracle import LiteRTModel

            engine = LiteRTModel(layer["path"], threads=spec["threads"])
        else:
            engine = load_artifact(layer["artifact"], spec["threads"])
        engine(inputs)
        result.append(engine.bench(inputs, spec["repeat"]).median_ms)
    return result


def run_worker(spec: dict) -> list[float]:
    """`time_layers(spec)` in a fresh process (this script's --worker); its result."""
    out = subprocess.run(
        [sys.executable, __file__, "--worker", json.dumps(spec)],
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(f"worker failed for {spec['engine']}: {out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _cuts(text: str) -> list[int]:
    """`--prefixes`: operator counts separated by commas."""
    try:
        return [int(k) for k in text.split(",") if k.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not operator counts: {text!r}") from None


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--worker":
        print(json.dumps(time_layers(json.loads(sys.argv[2]))))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", help="model name or .tflite")
    parser.add_argument("--records", required=True, help="records folder tuned for the model")
    parser.add_argument("--board", default="host")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--ops", default="", help="only these op types, e.g. CONV_2D,ADD")
    parser.add_argument(
        "--prefixes",
        type=_cuts,
        default=[],
        help="cuts k1,k2,...: time the first k operators, per stage",
    )
    parser.add_argument("--workdir", default=None)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()

    work = Path(args.workdir or tempfile.mkdtemp(prefix="edgetune-layers-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        measure(args, work)
    finally:
        if not args.workdir:  # a folder of one-op models and libraries made for this run
            shutil.rmtree(work, ignore_errors=True)


def measure(args, work: Path) -> None:
    """Cut the model into one-op (or prefix) models in `work`, build them with the records,
    time both engines round after round, print the table and write the JSON."""
    from edgetune.frontend import find_model

    model_path = Path(find_model(args.model))
    cuts = args.prefixes
    layers = prefix_models(model_path, work, cuts) if cuts else op_models(model_path, work)
    if args.ops:
        layers = [la for la in layers if la["op"] in args.ops.split(",")]
    build_layers(layers, args, work)
    times: dict[str, list[list[float]]] = {"litert": [], "edgetune": []}
    for r in range(args.rounds):
        for engine in ["litert", "edgetune"] if r % 2 == 0 else ["edgetune", "litert"]:
            spec = {
                "engine": engine,
                "threads": args.threads,
                "repeat": args.repeat,
                "layers": layers,
            }
            times[engine].append(run_worker(spec))
    for i, layer in enumerate(layers):
        layer["litert_ms"] = median(t[i] for t in times["litert"])
        layer["edgetune_ms"] = median(t[i] for t in times["edgetune"])
        layer["ratio"] = layer["edgetune_ms"] / layer["litert_ms"]
    if cuts:
        print_stages(layers, args)
    else:
        print_layers(layers, args)
    if args.json:
        Path(args.json).write_text(json.dumps({"args": vars(args), "layers": layers}, indent=1))


def print_stages(layers: list[dict], args) -> None:
    """Each prefix's time, and each stage (operators between two cuts) as their difference."""
    print(
        f"{args.model}: {len(layers)} prefixes, {args.threads} threads, "
        f"{args.rounds} rounds x {args.repeat} calls; stage = difference of two prefixes"
    )
    print(
        f"{'ops':<9} {'last op':<18} {'out':<14} {'LiteRT ms':>9} {'edgetune':>9} "
        f"{'stage LiteRT':>12} {'stage edgetune':>14} {'x':>5}"
    )
    start, before = 0, {"litert_ms": 0.0, "edgetune_ms": 0.0}
    for la in layers:
        lite = la["litert_ms"] - before["litert_ms"]
        ours = la["edgetune_ms"] - before["edgetune_ms"]
        la["stage"] = {"first_op": start, "litert_ms": lite, "edgetune_ms": ours}
        ops = f"{start}-{la['index']}"
        print(
            f"{ops:<9} {la['op']:<18} {la['out_shape']:<14} "
            f"{la['litert_ms']:>9.4f} {la['edgetune_ms']:>9.4f} {lite:>12.4f} {ours:>14.4f} "
            f"{ours / lite if lite > 0 else float('nan'):>5.2f}"
        )
        start, before = la["index"] + 1, la


def print_layers(layers: list[dict], args) -> None:
    """One row per one-op model, then sums per operator type."""
    print(
        f"{args.model}: {len(layers)} layers, {args.threads} threads, "
        f"{args.rounds} rounds x {args.repeat} calls"
    )
    print(
        f"{'#':>3} {'op':<18} {'out':<14} {'tuned':>5} {'LiteRT ms':>9} "
        f"{'edgetune':>9} {'est':>7} {'x':>5}"
    )
    for la in layers:
        print(
            f"{la['index']:>3} {la['op']:<18} {la['out_shape']:<14} {la['tuned']:>5} "
            f"{la['litert_ms']:>9.4f} {la['edgetune_ms']:>9.4f} {la['estimate_ms']:>7.4f} "
            f"{la['ratio']:>5.2f}"
        )
    by_op: dict[str, list[float]] = {}
    for la in layers:
        sums = by_op.setdefault(la["op"], [0.0, 0.0])
        sums[0] += la["litert_ms"]
        sums[1] += la["edgetune_ms"]
    for op, (lite, ours) in sorted(by_op.items(), key=lambda kv: -kv[1][1]):
        print(f"    {op:<18} LiteRT {lite:.3f} ms, edgetune {ours:.3f} ms ({ours / lite:.2f}x)")


if __name__ == "__main__":
    from script_main import run_main

    run_main(main)
