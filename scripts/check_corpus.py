"""Build every corpus model untuned on the host board and compare it with LiteRT.

    python scripts/check_corpus.py [--cache DIR] [--set corpus|holdout|all] [--only NAME ...]
                                   [--json corpus.json]

Fetches the corpus first (scripts/fetch_corpus.py). Each model runs in its own process (a
crash or a hang fails that model only; `--jobs` of them at once): import, untuned build,
three runs on seeded random inputs against LiteRT's reference kernels (MediaPipe custom ops
with a builtin equivalent substituted in LiteRT's copy, named in the last column; those
without one evaluated in NumPy between LiteRT runs: status pass-np). Pass: float outputs
within 1e-3 of the output's largest magnitude, integer outputs within 1 LSB, on every output
(edgetune/oracle/conformance). Prints a table and 'N passed, M failed', writes JSON.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from fetch_corpus import DEFAULT_CACHE, fetch, load_manifest  # noqa: E402

TIMEOUT_S = 300


def check_one(path: str, shapes: list[str]) -> dict:
    """One model's verdict, in this process."""
    from edgetune.board import load_board
    from edgetune.frontend.input_shapes import parse_input_shape
    from edgetune.oracle.conformance import check_model

    return check_model(path, load_board("host"), input_shapes=dict(map(parse_input_shape, shapes)))


def run_isolated(path: Path, shapes: list[str]) -> dict:
    cmd = [sys.executable, __file__, "--one", str(path), *(f"--input-shape={s}" for s in shapes)]
    start = time.monotonic()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT_S)
        lines = proc.stdout.strip().splitlines()
        if proc.returncode == 0 and lines:
            result = json.loads(lines[-1])
        else:
            tail = (proc.stderr.strip().splitlines() or ["?"])[-1]
            result = {
                "status": "fail",
                "stage": "crash",
                "error": f"exit {proc.returncode}: {tail}",
            }
    except subprocess.TimeoutExpired:
        result = {"status": "fail", "stage": "timeout", "error": f"over {TIMEOUT_S} s"}
    return {"model": path.stem, **result, "seconds": round(time.monotonic() - start, 1)}


def table(results: list[dict]) -> list[str]:
    lines = [f"{'model':<38} {'quant':<7} {'result':<7} {'worst':>9}  first error / reference"]
    for r in results:
        worst = max((o["error"] for o in r.get("outputs", [])), default=None)
        worst_text = "-" if worst is None else f"{worst:.2g}"
        note = r.get("error") or ("" if r.get("reference") == "LiteRT" else r.get("reference", ""))
        lines.append(
            f"{r['model']:<38} {r.get('quantization', '?'):<7} {r['status']:<7} {worst_text:>9}  "
            f"{note[:160]}"
        )
    count = Counter(r["status"] for r in results)
    failed = len(results) - count["pass"] - count["pass-np"]
    lines.append(
        f"{count['pass']} passed, {failed} failed ({count['no-ref']} of them built and ran, but "
        f"LiteRT cannot run them to compare), {count['pass-np']} matched LiteRT with custom ops "
        "LiteRT cannot run evaluated in NumPy (pass-np)"
    )
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument(
        "--set",
        choices=("corpus", "holdout", "all"),
        default="corpus",
        help="the corpus, the held-out models (never used while developing), or both",
    )
    parser.add_argument("--only", nargs="*", help="model names to check (default: the whole set)")
    parser.add_argument("--json", type=Path, default=Path("corpus.json"), help="results file")
    parser.add_argument(
        "--jobs", type=int, default=2, help="models checked at once (default 2, one per core)"
    )
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--input-shape", action="append", default=[], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(check_one(args.one, args.input_shape)))
        return 0
    fetch(args.cache)
    entries = [
        e
        for e in load_manifest()
        if (not args.only or e["name"] in args.only)
        and (args.set == "all" or e.get("set", "corpus") == args.set)
    ]

    def check(entry: dict) -> dict:
        path = args.cache / "models" / f"{entry['name']}.tflite"
        result = run_isolated(path, entry.get("input_shapes", []))
        print(table([result])[1], flush=True)
        return result

    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        results = list(pool.map(check, entries))
    print("\n".join(table(results)))
    args.json.write_text(json.dumps(results, indent=1))
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
