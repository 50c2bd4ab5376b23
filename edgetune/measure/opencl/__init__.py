"""OpenCL boards measured through pyopencl (PoCL here): candidate programs, device, runner.

Connection kind "opencl" selects this backend. A real Mali board whose TVM runtime is built
with OpenCL is reached like any other board, with connection kind "rpc" (the farm's backend).
"""

from ..backend import Backend, register_backend
from .device import Device, check_device, random_arrays
from .measure import OpenCLRunner, make_opencl_builder, make_opencl_runner
from .model_plan import run_plan, write_plan
from .program import KernelLaunch, OpenCLProgram, lower_opencl

register_backend(
    "opencl",
    Backend(
        runner=make_opencl_runner,
        run_artifact=run_plan,
        builder=make_opencl_builder,
        after_build=write_plan,
        reachable=check_device,
    ),
)

__all__ = [
    "Device",
    "KernelLaunch",
    "OpenCLProgram",
    "OpenCLRunner",
    "lower_opencl",
    "make_opencl_builder",
    "make_opencl_runner",
    "random_arrays",
]
