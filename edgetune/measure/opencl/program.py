"""An OpenCL program extracted from a TVM build: kernel source, argument order, launch sizes.

The pip TVM wheel generates OpenCL C but has no OpenCL runtime, so edgetune lowers a scheduled
PrimFunc itself (TVM's own tirx pipeline and host/device split, as `tvm.tirx.build` does), keeps
the OpenCL source of the device module, and reads each kernel's arguments and launch extents
from the device functions (`tirx.kernel_launch_params`, `thread_extent` attributes).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

KERNEL_ARG_SUFFIX = "_ptr"  # TVM names a kernel's buffer argument <buffer>_ptr
AXES = "xyz"


@dataclass(frozen=True)
class KernelLaunch:
    """One kernel call: which function arguments it takes and its NDRange."""

    name: str
    args: list[int]  # in kernel argument order: index into params, then into scratch
    global_size: list[int]  # work-items per dimension (work-groups x work-group size)
    local_size: list[int]  # work-group size per dimension


@dataclass(frozen=True)
class OpenCLProgram:
    """Everything needed to run a built PrimFunc on an OpenCL device."""

    source: str
    kernels: list[KernelLaunch]  # in call order
    params: list[dict[str, Any]]  # name, shape, dtype of each PrimFunc parameter
    scratch: list[dict[str, Any]]  # name, shape, dtype of global buffers passed between kernels

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> OpenCLProgram:
        kernels = [KernelLaunch(**k) for k in data["kernels"]]
        return cls(data["source"], kernels, data["params"], data["scratch"])

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.write_text(json.dumps(self.to_json()), encoding="utf-8")
        return path

    @classmethod
    def load(cls, path: str | Path) -> OpenCLProgram:
        return cls.from_json(json.loads(Path(path).read_text(encoding="utf-8")))


def lower_opencl(mod: Any, target: Any) -> OpenCLProgram:
    """Lower a scheduled single-PrimFunc IRModule for an OpenCL target."""

    from ...tvm_api import tirx, tirx_build

    (func,) = [f for f in mod.functions.values() if hasattr(f, "body")]
    params = [
        {"name": p.name, "shape": [int(s) for s in p.shape], "dtype": str(p.dtype)}
        for p in func.params
    ]
    mod = tirx.transform.BindTarget(target.with_host(target.host or "llvm"))(mod)
    pipeline, _, finalize_device = tirx.get_default_tir_pipeline(target)
    _, device_mods = tirx_build.split_host_device_mods(pipeline(mod))
    if len(device_mods) != 1:
        raise ValueError(f"expected one OpenCL device module, got {len(device_mods)}")
    ((dev_target, device_mod),) = device_mods.items()
    device_mod = finalize_device()(device_mod)
    source = tirx_build.codegen_build(device_mod, dev_target).inspect_source()
    scratch: list[dict[str, Any]] = []
    kernels = [_launch(gv.name_hint, f, params, scratch) for gv, f in device_mod.functions.items()]
    order = {name: source.find(f"__kernel void {name}(") for name in (k.name for k in kernels)}
    kernels.sort(key=lambda k: order[k.name])  # host calls kernels in definition order
    return OpenCLProgram(source, kernels, params, scratch)


def _launch(
    name: str, func: Any, params: list[dict[str, Any]], scratch: list[dict[str, Any]]
) -> KernelLaunch:
    """A kernel's launch: arguments are the function's buffers (matched by name) or scratch
    buffers (intermediates the host would allocate as workspace), sized from the kernel's
    buffer declarations."""
    from ...tvm_api import tirx

    extents: dict[str, int] = {}
    declared: dict[str, dict[str, Any]] = {}

    def visit(node: Any) -> None:
        if isinstance(node, tirx.AttrStmt) and node.attr_key == "thread_extent":
            extents[node.node.thread_tag] = int(node.value)
        elif isinstance(node, tirx.DeclBuffer):
            buf = node.buffer
            declared.setdefault(
                buf.name, {"shape": [int(s) for s in buf.shape], "dtype": str(buf.dtype)}
            )

    _walk(func.body, visit)
    names = [p["name"] for p in params]
    args = []
    for p in func.params:
        buffer = p.name.removesuffix(KERNEL_ARG_SUFFIX)
        if buffer in names:
            args.append(names.index(buffer))
            continue
        if buffer not in declared:
            raise ValueError(f"kernel {name}: cannot size argument {p.name}")
        known = [s["name"] for s in scratch]
        if buffer not in known:
            scratch.append({"name": buffer, **declared[buffer]})
            known.append(buffer)
        args.append(len(params) + known.index(buffer))
    groups = [extents.get(f"blockIdx.{a}", 1) for a in AXES]
    local = [extents.get(f"threadIdx.{a}", 1) for a in AXES]
    return KernelLaunch(
        name=name,
        args=args,
        global_size=[g * t for g, t in zip(groups, local)],
        local_size=local,
    )


def _walk(stmt: Any, visit) -> None:
    """Pre-order walk over statements (the Python API has no stmt visitor in 0.27)."""
    visit(stmt)
    for attr in ("body", "then_case", "else_case", "block"):
        child = getattr(stmt, attr, None)
        if child is not None:
            _walk(child, visit)
    for child in getattr(stmt, "seq", []) or []:
        _walk(child, visit)
