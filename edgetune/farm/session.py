"""Work done in one RPC session with a board, run inside a PopenWorker so that the caller can
give it a hard deadline (a stuck session cannot block the caller).

Each function connects to the server the tracker leased (host, port, matchkey), does its job,
and drops every remote handle before returning (a live handle from an old session makes the
next one hang).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from ..errors import last_line

# what TVM's client says when the server gave a leased match key up (it keeps one for a few
# seconds: a client that connects later finds no server for it, the server itself is fine)
STALE_MATCH_KEY = "cannot find server that matches key"


def ready() -> bool:
    """In a worker process: import what a session needs, so that a lease taken next is used
    within the server's match-key timeout (importing TVM on a busy host outlasted it)."""
    from tvm import rpc  # noqa: F401

    from ..tvm_api import ms  # noqa: F401

    return True


def _connect(host: str, port: int, matchkey: str, session_timeout: float):
    from tvm import rpc

    return rpc.connect(host, port, key=matchkey, session_timeout=session_timeout)


def _session_alive(sess) -> bool:
    try:
        sess.get_function("tvm.rpc.server.workpath")
        return True
    except Exception:  # noqa: BLE001 - any failure means the session is gone
        return False


def measure_candidate(
    host: str,
    port: int,
    matchkey: str,
    session_timeout: float,
    artifact_path: str,
    device_type: str,
    args_info: Any,
    evaluator: tuple[int, int, int, bool],
) -> tuple[list[float] | None, str, bool]:
    """Time one built candidate. Returns (costs, error, session still alive)."""
    from ..tvm_api import ms

    rpc_runner = ms.runner.rpc_runner

    sess = None
    remote_path = os.path.basename(artifact_path)
    try:
        sess = _connect(host, port, matchkey, session_timeout)
        device = sess.device(device_type, 0)
        rt_mod = rpc_runner.default_upload_module(sess, artifact_path, remote_path)
        args = _alloc_arguments(sess, device, args_info, rpc_runner.default_alloc_argument)
        costs = rpc_runner.default_run_evaluator(
            sess, rt_mod, device, ms.runner.config.EvaluatorConfig(*evaluator), args
        )
        del rt_mod, args, device
        rpc_runner.default_cleanup(sess, remote_path)
        return [float(c) for c in costs], "", True
    except Exception as err:  # noqa: BLE001 - reported as the candidate's error
        alive = sess is not None and _session_alive(sess)
        return None, f"{type(err).__name__}: {last_line(err)}", alive


def _alloc_arguments(sess, device, args_info, default_alloc):
    """Random arguments on the board (farm/arguments.py): filled there when its runtime has
    `random_fill_for_measure` (MetaSchedule's way), else generated here and copied (the
    aarch64 runtime wheel lacks that function)."""
    import tvm

    from .arguments import random_array, zero_indices

    try:
        sess.get_function("tvm.contrib.random.random_fill_for_measure")
    except AttributeError:
        pass
    else:
        return zero_indices(default_alloc(sess, device, args_info, 1))
    rng = np.random.default_rng(0)
    return [[tvm.runtime.tensor(random_array(t, shape, rng), device) for _, t, shape in args_info]]


def check_health(
    host: str, port: int, matchkey: str, lib_path: str, inputs: list[np.ndarray]
) -> np.ndarray:
    """Run the health kernel (`main(a, b, c)`) on the board; returns c."""
    import tvm

    sess = _connect(host, port, matchkey, 60)
    sess.upload(lib_path, "edgetune_health.so")
    lib = sess.load_module("edgetune_health.so")
    dev = sess.cpu(0)
    args = [tvm.runtime.tensor(x, dev) for x in inputs]
    out = tvm.runtime.empty(inputs[0].shape, str(inputs[0].dtype), dev)
    lib["main"](*args, out)
    result = out.numpy()
    del lib, args, out, dev
    return result


def run_model(
    host: str,
    port: int,
    matchkey: str,
    session_timeout: float,
    artifact_path: str,
    steps: list[list[np.ndarray]],
    states: list[np.ndarray],
    repeat: int,
) -> tuple[list[list[np.ndarray]], list[float]]:
    """Run a built model (Relax VM library) on the board on each step's inputs in sequence,
    from `states` on (carried as on the host: runtime.LoadedModel): each step's outputs and
    the per-run latencies (s) of the last step (with the states it ended with)."""
    from tvm import relax

    from ..runtime.local import LoadedModel

    sess = _connect(host, port, matchkey, session_timeout)
    remote = "edgetune_model.so"
    sess.upload(artifact_path, remote)
    lib = sess.load_module(remote)
    dev = sess.cpu(0)
    vm = relax.VirtualMachine(lib, dev)
    model = LoadedModel(meta=None, vm=vm, device=dev, states=list(states))
    outputs = [model(inputs) for inputs in steps]
    args = model.tensors([*steps[-1], *model.states])
    vm.set_input("main", *args)
    timer = vm.time_evaluator("invoke_stateful", dev, number=1, repeat=max(1, repeat))
    latencies = [float(x) for x in timer("main").results]
    del model, vm, lib, args, dev, timer
    return outputs, latencies
