"""OpenCL boards measured through pyopencl (PoCL here): candidate programs, device, runner.

Connection kind "opencl" selects this path. A real Mali board whose TVM runtime is built with
OpenCL is reached like any other board, with connection kind "rpc" (the normal RPCRunner); only
the runner factory differs, `make_runner(board)` is the one interface for both.
"""

from ..runner import register_runner
from .device import Device, random_arrays
from .measure import OpenCLRunner, make_opencl_builder, make_opencl_runner
from .program import KernelLaunch, OpenCLProgram, lower_opencl

register_runner("opencl", make_opencl_runner)

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
