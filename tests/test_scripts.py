"""The benchmark scripts still run against today's package: the int8-vs-QDQ task benchmark on
the shipped tiny int8 model (its rule set is built from the package's rule-set API, which it
fell behind once), with a tiny budget; the JSON it writes holds a row per conv task."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from edgetune.paths import REPO_DIR


def test_bench_int8_tasks_runs_on_a_shipped_model(tmp_path):
    out = tmp_path / "int8.json"
    done = subprocess.run(
        [sys.executable, str(REPO_DIR / "scripts/bench_int8_tasks.py"), "--model", "tiny_int8",
         "--tasks", "1", "--trials", "2", "--json", str(out)],
        env={**os.environ, "PYTHONPATH": str(REPO_DIR)}, cwd=tmp_path, capture_output=True,
        text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    (row,) = json.loads(out.read_text())["rows"]
    assert "requantize" in row["int8_task"] and row["int8_us"] > 0 and row["qdq_us"] > 0
