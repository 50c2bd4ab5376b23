"""Whole models on OpenCL boards without a TVM OpenCL runtime: a plan of kernel calls.

`edgetune build --board <opencl board>` writes the TVM library (for a real board whose TVM
runtime has OpenCL) and, beside it, `<library>.opencl/`: every fused function lowered to an
OpenCLProgram, the model's weights, and the Relax `main` as a list of calls. `edgetune run`
on an opencl-connected board executes that list through pyopencl, keeping every tensor on the
device between kernels. This replaces only the Relax VM's kernel dispatch; the kernels are the
ones TVM generated from the same records. On PoCL, latencies are PoCL-on-this-CPU latencies,
not Mali latencies.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ...errors import InputError, ModelError
from .device import Device
from .program import OpenCLProgram, lower_opencl

if TYPE_CHECKING:
    from ...board import Board
    from ...tasks import ModelTasks

PLAN = "plan.json"
WEIGHTS = "weights.npz"


def plan_dir(artifact: str | Path) -> Path:
    return Path(f"{artifact}.opencl")


@dataclass
class ModelPlan:
    """Programs by function name, and `main` as calls on named values.

    Value names: `in:<i>` model inputs, `w:<i>` weights, anything else an intermediate.
    """

    programs: dict[str, OpenCLProgram]
    calls: list[dict[str, Any]]  # {"func", "args": [value names], "out": name, shape, dtype}
    outputs: list[str]
    weights: list[np.ndarray]

    def save(self, folder: str | Path) -> Path:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        data = {
            "programs": {k: p.to_json() for k, p in self.programs.items()},
            "calls": self.calls,
            "outputs": self.outputs,
        }
        (folder / PLAN).write_text(json.dumps(data), encoding="utf-8")
        np.savez(folder / WEIGHTS, *self.weights)
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> ModelPlan:
        folder = Path(folder)
        if not (folder / PLAN).is_file():
            raise InputError(
                f"{folder} not found: build the model for this OpenCL board with `edgetune build`"
            )
        data = json.loads((folder / PLAN).read_text(encoding="utf-8"))
        with np.load(folder / WEIGHTS) as w:
            weights = [w[f"arr_{i}"] for i in range(len(w.files))]
        programs = {k: OpenCLProgram.from_json(p) for k, p in data["programs"].items()}
        return cls(programs, data["calls"], data["outputs"], weights)


def build_plan(model_tasks: ModelTasks, database: Any) -> ModelPlan:
    """Schedule every fused function of the lowered model (its records, then dlight's GPU
    defaults for the rest), lower each to OpenCL, and record `main`'s calls."""
    import tvm
    from tvm import relax

    from ...rules.fallback import apply_gpu_fallback
    from ...tvm_api import tirx

    with model_tasks.target, database, tvm.transform.PassContext(opt_level=3):
        mod = relax.transform.MetaScheduleApplyDatabase(enable_warning=False)(model_tasks.fused)
        mod = apply_gpu_fallback(mod)
    programs = {}
    for gv, func in mod.functions.items():
        if isinstance(func, tirx.PrimFunc):
            single = tvm.IRModule({"main": func.with_attr("global_symbol", "main")})
            programs[gv.name_hint] = lower_opencl(single, model_tasks.target)
    calls, outputs, weights = _main_calls(mod["main"])
    return ModelPlan(programs, calls, outputs, weights)


def _main_calls(main: Any) -> tuple[list[dict[str, Any]], list[str], list[np.ndarray]]:
    import tvm
    from tvm import relax

    names: dict[Any, str] = {p: f"in:{i}" for i, p in enumerate(main.params)}
    weights: list[np.ndarray] = []
    calls = []

    def ref(expr: Any) -> str:
        if isinstance(expr, tvm.ir.expr.GenericConst):
            weights.append(expr.value.numpy())
            return f"w:{len(weights) - 1}"
        if expr in names:
            return names[expr]
        raise ModelError(f"OpenCL plan: unsupported argument {type(expr).__name__} in main")

    for block in main.body.blocks:
        for binding in block.bindings:
            value = binding.value
            if getattr(getattr(value, "op", None), "name", "") != "relax.call_tir":
                raise ModelError(f"OpenCL plan: unsupported operation in main: {value}"[:200])
            func, args = value.args[0], value.args[1]
            out = binding.var.ty
            # variable names repeat in main (int8 models: a pad's `lv`, then a conv's `lv`):
            # each value gets its own buffer, named by its call
            name = f"{binding.var.name}#{len(calls)}"
            names[binding.var] = name
            calls.append(
                {
                    "func": func.name_hint,
                    "args": [ref(a) for a in args.fields],
                    "out": name,
                    "shape": [int(s) for s in out.shape.values],
                    "dtype": str(out.dtype),
                }
            )
    body = main.body.body
    results = body.fields if isinstance(body, relax.Tuple) else [body]
    return calls, [names[r] for r in results], weights


class PlanRunner:
    """Executes a ModelPlan on an OpenCL device; weights stay uploaded between runs."""

    def __init__(self, plan: ModelPlan, device: Device):
        self.plan = plan
        self.device = device
        self.weights = [device.upload(w) for w in plan.weights]
        self.values: dict[str, Any] = {}

    def __call__(self, inputs: list[np.ndarray]) -> list[np.ndarray]:
        self._run(inputs)
        shapes = {c["out"]: (c["shape"], c["dtype"]) for c in self.plan.calls}
        return [self.device.download(self.values[o], *shapes[o]) for o in self.plan.outputs]

    def _run(self, inputs: list[np.ndarray]) -> float:
        """Run every call; returns the summed kernel time (OpenCL events) in seconds."""
        values = {f"in:{i}": self.device.upload(a) for i, a in enumerate(inputs)}
        values.update({f"w:{i}": b for i, b in enumerate(self.weights)})
        total = 0.0
        for call in self.plan.calls:
            if call["out"] not in self.values:
                size = int(np.prod(call["shape"])) * np.dtype(call["dtype"]).itemsize
                self.values[call["out"]] = self.device.empty(size)
            values[call["out"]] = self.values[call["out"]]
            buffers = [values[a] for a in call["args"]] + [values[call["out"]]]
            total += self.device.launch(self.plan.programs[call["func"]], buffers)
        self.values.update({k: v for k, v in values.items() if not k.startswith(("in:", "w:"))})
        return total

    def bench(self, inputs: list[np.ndarray], repeat: int):
        """Kernel time per inference (sum of OpenCL event times), as a Latency."""
        from ...runtime.timing import Latency

        self._run(inputs)  # warm-up: program builds
        return Latency.from_seconds([self._run(inputs) for _ in range(max(1, repeat))])


def write_plan(model_tasks: ModelTasks, database: Any, artifact: Path) -> str:
    """Backend `after_build`: the plan beside the library, for `edgetune run`."""
    build_plan(model_tasks, database).save(plan_dir(artifact))
    return f"wrote {plan_dir(artifact)} (OpenCL kernels and call plan for `edgetune run`)"


def run_plan(
    board: Board,
    artifact: Path,
    steps: list[list[np.ndarray]],
    states: list[np.ndarray],
    repeat: int | None,
):
    """Backend `run_artifact`: the plan's kernels through pyopencl, the steps in sequence
    (states carried from `states`); (each step's outputs, latency of the last)."""
    from ...runtime.states import invoke_steps
    from ...runtime.timing import DEFAULT_CALLS

    device = Device(str(board.connection.extra.get("platform", ""))).open()
    runner = PlanRunner(ModelPlan.load(plan_dir(artifact)), device)
    outputs, states = invoke_steps(runner, steps, states)
    return outputs, runner.bench([*steps[-1], *states], repeat or DEFAULT_CALLS)
