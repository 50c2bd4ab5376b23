"""Board-side helper for SSH boards, copied to the board and run with its python.

Standalone on purpose: it needs only the TVM runtime and numpy on the board, not edgetune.
Each mode prints one JSON line on stdout:
  python3 agent.py time   CAND.so ARGS.json NUMBER REPEAT MIN_REPEAT_MS TIMEOUT_S
                                                                      -> {"costs": [...]}
The timing run gets SIGALRM (default action: the process dies, exit status 142) after TIMEOUT_S,
so a hanging candidate cannot outlive its deadline; start-up time is not counted.
  python3 agent.py kernel LIB.so IN.npz OUT.npz                           -> {"ok": true}
  python3 agent.py run    MODEL.so IN.npz OUT.npz REPEAT STEPS STATES     -> {"latencies": [...]}
    IN.npz: each step's inputs, then the initial states; OUT.npz: each step's outputs. The steps
    run in sequence, the states carried (model_states.py, uploaded beside this script).
  python3 agent.py profile MODEL.so IN.npz RUNS        -> {"total": [...], "kernels": {...}, ...}
  python3 agent.py check                                 -> {"tvm": VERSION, "numpy": VERSION}
With EDGETUNE_DEADLINE_S in the environment, any mode dies of SIGALRM after that many seconds
(a model that hangs on the board does not outlive the command that started it).
"""

import json
import math
import os
import signal
import sys
import time

import numpy as np
import tvm


def _arrays(path, dev):
    data = np.load(path)
    return [tvm.runtime.tensor(data[f"arr_{i}"], dev) for i in range(len(data.files))]


def time_candidate(lib_path, args_path, number, repeat, min_repeat_ms, timeout_s):
    dev = tvm.cpu(0)
    lib = tvm.runtime.load_module(lib_path)
    rng = np.random.default_rng(0)
    args = []
    with open(args_path) as f:
        args_info = json.load(f)
    for _kind, dtype, shape in args_info:  # as edgetune/farm/arguments.py: indices zero
        if "float" in dtype:
            data = rng.uniform(-1, 1, size=shape)
        elif dtype in ("int32", "int64"):
            data = np.zeros(shape)
        else:
            data = rng.integers(-8, 8, shape)
        args.append(tvm.runtime.tensor(data.astype(dtype), dev))
    timer = lib.time_evaluator(
        lib.entry_name, dev, number=int(number), repeat=int(repeat),
        min_repeat_ms=int(min_repeat_ms),
    )  # fmt: skip
    signal.alarm(max(1, math.ceil(float(timeout_s))))
    costs = [float(x) for x in timer(*args).results]
    signal.alarm(0)
    return {"costs": costs}


def kernel(lib_path, in_path, out_path):
    dev = tvm.cpu(0)
    args = _arrays(in_path, dev)
    out = tvm.runtime.empty(args[0].shape, args[0].dtype, dev)
    tvm.runtime.load_module(lib_path)["main"](*args, out)
    np.savez(out_path, out.numpy())
    return {"ok": True}


def run(model_path, in_path, out_path, repeat, steps, states):
    from model_states import invoke_steps  # edgetune/runtime/states.py

    dev = tvm.cpu(0)
    vm = relax_vm(model_path, dev)
    args = _arrays(in_path, dev)
    steps, split = int(steps), len(args) - int(states)
    per_step = split // steps
    inputs = [args[i * per_step : (i + 1) * per_step] for i in range(steps)]
    outputs, last = invoke_steps(lambda a: _items(vm["main"](*a)), inputs, args[split:])
    np.savez(out_path, *[t.numpy() for out in outputs for t in out])
    vm.set_input("main", *inputs[-1], *last)
    timer = vm.time_evaluator("invoke_stateful", dev, number=1, repeat=max(1, int(repeat)))
    return {"latencies": [float(x) for x in timer("main").results]}


def relax_vm(model_path, dev):
    from tvm import relax

    return relax.VirtualMachine(tvm.runtime.load_module(model_path), dev)


def _items(result):
    return list(result) if isinstance(result, (list, tuple, tvm.ir.Array)) else [result]


def profile_vm(vm, args, runs):
    """Time every call the VM makes while it runs the model whole, `runs` times (wall clock
    around each call, on the board), each instrumented run right after an uninstrumented
    whole-model run, so that both see the board in the same state (a shared or throttling
    machine drifts between minutes).

    Returns {"total": [s per run], "instrumented": [s per instrumented run], "kernels":
    {symbol: [s per run]}, "calls": {symbol: calls per run}}: what the instrumented runs take
    over the others is the timer's own cost. Used on the host (edgetune.profile) and on SSH
    boards (mode `profile`).
    """
    main = vm["main"]
    main(*args)  # warm-up
    started, this_run, calls = [], {}, {}

    def instrument(func, symbol, before_run, ret_value, *_):
        if before_run:
            started.append(time.perf_counter())
        else:
            this_run[symbol] = this_run.get(symbol, 0.0) + time.perf_counter() - started.pop()
            calls[symbol] = calls.get(symbol, 0) + 1
        return 0  # VMInstrumentReturnKind.NO_OP

    total, instrumented, kernels = [], [], {}
    for _ in range(max(1, runs)):
        vm.set_instrument(None)
        start = time.perf_counter()
        main(*args)
        total.append(time.perf_counter() - start)
        vm.set_instrument(instrument)
        this_run.clear()
        calls.clear()
        start = time.perf_counter()
        main(*args)
        instrumented.append(time.perf_counter() - start)
        for symbol, secs in this_run.items():
            kernels.setdefault(symbol, []).append(secs)
    vm.set_instrument(None)
    return {"total": total, "instrumented": instrumented, "kernels": kernels, "calls": dict(calls)}


def profile(model_path, in_path, runs):
    dev = tvm.cpu(0)
    return profile_vm(relax_vm(model_path, dev), _arrays(in_path, dev), int(runs))


def check():
    return {"tvm": tvm.__version__, "numpy": np.__version__}


if __name__ == "__main__":
    if os.environ.get("EDGETUNE_DEADLINE_S"):
        signal.alarm(max(1, math.ceil(float(os.environ["EDGETUNE_DEADLINE_S"]))))
    modes = {
        "time": time_candidate, "kernel": kernel, "run": run, "profile": profile, "check": check
    }  # fmt: skip
    print(json.dumps(modes[sys.argv[1]](*sys.argv[2:])))
