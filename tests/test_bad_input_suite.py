"""Generated bad input for every command: damaged TFLite files, artifacts, records, board and
toolchain files, input tensors. The only acceptable outcomes are success, or exit 2 with the
error as the last line on stderr (`edgetune: error: ...` naming the file) and no traceback; the
files given as input are never changed."""

from __future__ import annotations

import hashlib
import random
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from edgetune.paths import MODELS_DIR, REPO_DIR

SEED = 20261130


@dataclass
class Case:
    name: str
    args: list[str]
    inputs: list[Path] = field(default_factory=list)  # must be unchanged afterwards
    env: dict[str, str] = field(default_factory=dict)


def _digest(paths: list[Path]) -> dict[str, str]:
    out = {}
    for p in paths:
        files = sorted(q for q in p.rglob("*") if q.is_file()) if p.is_dir() else [p]
        for f in files:
            out[str(f)] = hashlib.sha256(f.read_bytes()).hexdigest() if f.exists() else "-"
    return out


def _tflite_cases(root: Path, rng: random.Random) -> list[Case]:
    src = (MODELS_DIR / "tiny_fp32.tflite").read_bytes()
    cases = []
    for i, cut in enumerate(sorted(rng.sample(range(1, len(src) - 1), 12))):
        p = root / f"trunc{i}.tflite"
        p.write_bytes(src[:cut])
        cases.append(Case(f"tflite-truncated-at-{cut}", ["tasks", str(p)], [p]))
    for i in range(16):
        data = bytearray(src)
        for _ in range(rng.randint(1, 8)):
            data[rng.randrange(8, len(data))] = rng.randrange(256)
        p = root / f"flip{i}.tflite"
        p.write_bytes(bytes(data))
        cases.append(Case(f"tflite-bytes-flipped-{i}", ["tasks", str(p)], [p]))
    for name, content in [("empty", b""), ("text", b"not a model\n"), ("zeros", bytes(4096)),
                          ("header-only", src[:8])]:  # fmt: skip
        p = root / f"{name}.tflite"
        p.write_bytes(content)
        cases.append(Case(f"tflite-{name}", ["tasks", str(p)], [p]))
    d = root / "a-directory.tflite"
    d.mkdir()
    cases.append(Case("tflite-directory", ["tasks", str(d)], [d]))
    return cases


def _artifact_cases(root: Path, rng: random.Random, lib: Path) -> list[Case]:
    src = lib.read_bytes()
    variants = {
        "zero-header": lambda b: bytes(64) + b[64:],
        "truncated-half": lambda b: b[: len(b) // 2],
        "no-trailer": lambda b: b[: len(b) - 16],
        "trailer-json": lambda b: b[:-40] + b"{" + b[-39:],
        "trailer-length": lambda b: b[:-16] + (2**40).to_bytes(8, "little") + b[-8:],
        "empty": lambda b: b"",
    }
    for i in range(14):
        start = rng.randrange(0, len(src) - 256)
        variants[f"random-bytes-{i}"] = lambda b, s=start: (
            b[:s] + bytes(rng.randrange(256) for _ in range(64)) + b[s + 64 :]
        )
    cases = []
    for name, damage in variants.items():
        p = root / f"{name}.so"
        p.write_bytes(damage(src))
        cases.append(Case(f"artifact-{name}", ["run", str(p), "--repeat", "1"], [p]))
    return cases


def _input_cases(root: Path, lib: Path) -> list[Case]:
    good = np.zeros((1, 32, 32, 3), np.float32)
    files = {
        "empty.npy": b"",
        "text.npy": b"1 2 3\n",
        "wrong-shape.npy": None,
        "wrong-dtype.npy": None,
        "archive.npz": None,
        "directory": None,
    }
    cases = []
    for name, content in files.items():
        p = root / name
        if content is not None:
            p.write_bytes(content)
        elif name == "wrong-shape.npy":
            np.save(p, np.zeros((1, 16, 16, 3), np.float32))
        elif name == "wrong-dtype.npy":
            np.save(p, good.astype(np.float64))
        elif name == "archive.npz":
            np.savez(p, x=good)
        else:
            p.mkdir()
        cases.append(Case(f"input-{name}", ["run", str(lib), "--input", str(p)], [p]))
    p = root / "ok.npy"
    np.save(p, good)
    cases.append(Case("input-two-for-one", ["run", str(lib), "--input", str(p), "--input",
                                           str(p), "--repeat", "1"], [p]))  # fmt: skip
    cases.append(Case("input-missing", ["run", str(lib), "--input", str(root / "nope.npy")]))
    return cases


BOARD_VARIANTS = {
    "toml-syntax": "name = 'x\n[target\n",
    "target-string": 'name = "b"\ntarget = "llvm"\n',
    "no-target": 'name = "b"\n',
    "target-kind-unknown": 'name = "b"\n[target]\nkind = "fpga"\n',
    "cores-text": 'name = "b"\n[target]\nkind = "llvm"\n[hardware]\ncores = "four"\n',
    "cores-float": 'name = "b"\n[target]\nkind = "llvm"\n[hardware]\ncores = 2.5\n',
    "cores-bool": 'name = "b"\n[target]\nkind = "llvm"\n[hardware]\ncores = true\n',
    "unknown-connection": 'name = "b"\n[target]\nkind = "llvm"\n[connection]\nkind = "usb"\n',
    "connection-string": 'name = "b"\nconnection = "rpc"\n[target]\nkind = "llvm"\n',
    "measure-text": 'name = "b"\n[target]\nkind = "llvm"\n[measure]\nrepeat = "3"\n',
    "measure-unknown-key": 'name = "b"\n[target]\nkind = "llvm"\n[measure]\nrepeats = 3\n',
    "unknown-top-key": 'name = "b"\nrule = "host"\n[target]\nkind = "llvm"\n',
    "hardware-list": 'name = "b"\nhardware = [1, 2]\n[target]\nkind = "llvm"\n',
    "rule-set-unknown": 'name = "b"\nrule_set = "nope"\n[target]\nkind = "llvm"\n',
    "toolchain-unknown": 'name = "b"\ntoolchain = "nope"\n[target]\nkind = "llvm"\n',
    "binary-garbage": "\x00\x01\x02",
}
TOOLCHAIN_VARIANTS = {
    "toolchain-syntax": 'cc = "gcc\n',
    "toolchain-no-cc": 'name = "broken"\n',
    "toolchain-cc-list": 'cc = ["gcc"]\n',
    "toolchain-options-text": 'cc = "gcc"\noptions = "-O2"\n',
}


def _config_cases(root: Path) -> list[Case]:
    cases = []
    for name, text in BOARD_VARIANTS.items():
        d = root / f"boards-{name}"
        d.mkdir()
        (d / "b.toml").write_text(text)
        env = {"EDGETUNE_BOARDS": str(d)}
        cases.append(Case(f"board-{name}-boards", ["boards"], [d], env))
        cases.append(Case(f"board-{name}-tasks", ["tasks", "tiny_fp32", "--board", "b"], [d], env))
    host = (REPO_DIR / "boards" / "host.toml").read_text()
    for name, text in TOOLCHAIN_VARIANTS.items():
        d = root / f"cfg-{name}"
        (d / "boards").mkdir(parents=True)
        (d / "toolchains").mkdir()
        (d / "toolchains" / "broken.toml").write_text(text)
        (d / "boards" / "b.toml").write_text(
            host.replace('name = "host"', 'name = "b"').replace(
                'toolchain = "host"', 'toolchain = "broken"'
            )
        )
        env = {"EDGETUNE_BOARDS": str(d / "boards"), "EDGETUNE_TOOLCHAINS": str(d / "toolchains")}
        cases.append(Case(f"{name}-build", ["build", "tiny_fp32", "--board", "b", "-o",
                                            str(root / f"{name}.so")], [d], env))  # fmt: skip
    return cases


def _records_cases(root: Path, rng: random.Random, records: Path) -> list[Case]:
    cases = []
    names = ["database_tuning_record.json", "database_workload.json", "edgetune-records.json"]
    for i, (name, how) in enumerate(
        [(n, h) for n in names for h in ("truncate", "garbage", "empty")]
    ):
        d = root / f"recs-{i}"
        shutil.copytree(records, d)
        f = d / name
        data = f.read_bytes()
        if how == "truncate":
            f.write_bytes(data[: rng.randrange(1, max(2, len(data)))])
        elif how == "garbage":
            f.write_bytes(data + b'[1, [["oops"\n')
        else:
            f.write_bytes(b"")
        args = ["build", "tiny_fp32", "--records", str(d), "-o", str(root / f"recs-{i}.so")]
        cases.append(Case(f"records-{name}-{how}", args, [d]))  # readers never write
    other = root / "recs-other-model"
    shutil.copytree(records, other)
    cases.append(Case("records-other-model", ["build", "tiny_int8", "--records", str(other), "-o",
                                              str(root / "o.so")], [other]))  # fmt: skip
    return cases


@pytest.fixture(scope="module")
def suite(tmp_path_factory):
    from edgetune.cli.main import main

    root = tmp_path_factory.mktemp("bad")
    rng = random.Random(SEED)
    lib, records = root / "tiny.so", root / "records"
    assert main(["tune", "tiny_fp32", "--trials", "4", "--records", str(records),
                 "--search", "ms", "--final-top", "0"]) == 0  # fmt: skip
    assert main(["build", "tiny_fp32", "--records", str(records), "-o", str(lib)]) == 0
    cases = (
        _tflite_cases(root, rng)
        + _artifact_cases(root, rng, lib)
        + _input_cases(root, lib)
        + _config_cases(root)
        + _records_cases(root, rng, records)
    )
    return cases


def test_suite_is_large_enough(suite):
    assert len(suite) >= 100


def test_every_bad_input_is_one_clear_line(suite, cli, monkeypatch):
    failures = []
    for case in suite:
        before = _digest(case.inputs)
        with monkeypatch.context() as m:
            for k, v in case.env.items():
                m.setenv(k, v)
            try:
                result = cli(*case.args)
            except Exception as err:  # noqa: BLE001 - reported with the others
                failures.append(f"{case.name}: raised {type(err).__name__}: {err}"[:400])
                continue
        lines = [ln for ln in result.err.splitlines() if ln.strip()]
        ok = result.code == 0 or (
            result.code == 2
            and lines
            and lines[-1].startswith("edgetune: error: ")
            and "Traceback" not in result.err
        )
        if not ok:
            failures.append(f"{case.name}: exit {result.code}: {result.err.strip()[-300:]}")
        if _digest(case.inputs) != before:
            failures.append(f"{case.name}: changed its input files")
    assert failures == []
