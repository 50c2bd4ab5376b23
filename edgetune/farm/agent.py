"""Board-side helper for SSH boards, copied to the board and run with its python.

Standalone on purpose: it needs only the TVM runtime and numpy on the board, not edgetune.
Each mode prints one JSON line on stdout:
  python3 agent.py time   CAND.so ARGS.json NUMBER REPEAT MIN_REPEAT_MS TIMEOUT_S
                                                                      -> {"costs": [...]}
The timing run gets SIGALRM (default action: the process dies, exit status 142) after TIMEOUT_S,
so a hanging candidate cannot outlive its deadline; start-up time is not counted.
  python3 agent.py kernel LIB.so IN.npz OUT.npz                           -> {"ok": true}
  python3 agent.py run    MODEL.so IN.npz OUT.npz REPEAT                  -> {"latencies": [...]}
"""

import json
import math
import signal
import sys

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
    for _kind, dtype, shape in args_info:
        data = rng.uniform(-1, 1, size=shape) if "float" in dtype else rng.integers(-8, 8, shape)
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


def run(model_path, in_path, out_path, repeat):
    from tvm import relax

    dev = tvm.cpu(0)
    vm = relax.VirtualMachine(tvm.runtime.load_module(model_path), dev)
    args = _arrays(in_path, dev)
    result = vm["main"](*args)
    items = list(result) if isinstance(result, (list, tuple, tvm.ir.Array)) else [result]
    np.savez(out_path, *[t.numpy() for t in items])
    vm.set_input("main", *args)
    timer = vm.time_evaluator("invoke_stateful", dev, number=1, repeat=max(1, int(repeat)))
    return {"latencies": [float(x) for x in timer("main").results]}


if __name__ == "__main__":
    modes = {"time": time_candidate, "kernel": kernel, "run": run}
    print(json.dumps(modes[sys.argv[1]](*sys.argv[2:])))
