"""Artifact metadata: a JSON trailer appended to the exported shared library.

The loader maps an ELF file through its program headers and ignores bytes past the sections, so
`model.so` stays loadable while carrying what `edgetune run` needs (inputs, outputs, dtypes,
quantization, board). Layout at the end of the file: JSON bytes, 8-byte little-endian length,
8-byte magic.
"""

from __future__ import annotations

import hashlib
import json
import platform
import struct
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from ..board.toolchain import ELF_MACHINES, elf_machine
from ..errors import BoardError, InputError
from ..frontend import ModelInfo

MAGIC = b"EDGETUNE"


@dataclass(frozen=True)
class ArtifactMeta:
    """What a built library carries about itself."""

    model: ModelInfo
    board: str
    target: str
    tuned_tasks: int
    total_tasks: int
    edgetune_version: str
    integer_kernels: bool = False
    library_sha256: str = ""  # of the library bytes before the trailer: damage is caught

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["model"] = self.model.to_json()
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ArtifactMeta:
        return cls(**{**data, "model": ModelInfo.from_json(data["model"])})


def write_artifact_meta(path: str | Path, meta: ArtifactMeta) -> None:
    """Append the metadata trailer, with the checksum of the library it describes."""
    meta = replace(meta, library_sha256=hashlib.sha256(Path(path).read_bytes()).hexdigest())
    payload = json.dumps(meta.to_json(), sort_keys=True).encode()
    with open(path, "ab") as f:
        f.write(payload + struct.pack("<Q", len(payload)) + MAGIC)


def read_artifact_meta(
    path: str | Path, board: str | None = None, target: Any = None
) -> ArtifactMeta:
    """Metadata of an artifact built by `edgetune build`; InputError for anything else.

    With `board`, the artifact is also checked before anyone loads it: built for that board
    (BoardError otherwise) and, with the board's `target`, for what it targets now (a copied
    board file that kept the name, or an edited one: code for another CPU crashes on an illegal
    instruction), an ELF shared library for the board's architecture, and its bytes unchanged
    since the build (a damaged library would crash the loader).
    """
    path = Path(path)
    meta, library_size = _read(path)
    if board is None:
        return meta
    if meta.board != board:
        raise BoardError(f"{path} was built for board '{meta.board}', not '{board}'")
    if target is not None and (built := _cpu(meta.target)) and built != _cpu(str(target)):
        raise BoardError(
            f"{path} was built for board '{board}' targeting {_shown(meta.target)}, and board "
            f"'{board}' now targets {_shown(str(target))} (its board file changed, or another "
            "file of that name): build it again for this board"
        )
    _check_library(path, meta, library_size)
    return meta


TARGET_KEYS = ("kind", "device", "mtriple", "mcpu")  # what the code is generated for (+ mattr)


def _cpu(target: str) -> tuple:
    """The parts of a target's JSON that decide the instructions generated."""
    try:
        data = json.loads(target)
    except ValueError:  # artifacts of older versions held another form: nothing to compare
        return ()
    return (*(data.get(k) for k in TARGET_KEYS), tuple(sorted(data.get("mattr") or [])))


def _shown(target: str) -> str:
    cpu = _cpu(target)
    if not cpu:
        return target
    parts = [f"{k}={v}" for k, v in zip(TARGET_KEYS, cpu) if v]
    return " ".join(parts + ([f"mattr={','.join(cpu[-1])}"] if cpu[-1] else []))


def _check_library(path: Path, meta: ArtifactMeta, size: int) -> None:
    data = path.read_bytes()[:size]
    if (machine := elf_machine(data)) is None:
        raise InputError(f"{path}: damaged library (no ELF header)")
    arch = next((a for a in ELF_MACHINES if a in meta.target), platform.machine())
    if arch in ELF_MACHINES and machine != ELF_MACHINES[arch]:
        raise InputError(f"{path}: damaged library (ELF machine {machine}, expected {arch})")
    if meta.library_sha256 and hashlib.sha256(data).hexdigest() != meta.library_sha256:
        raise InputError(f"{path}: damaged library (contents changed since it was built)")


def _read(path: Path) -> tuple[ArtifactMeta, int]:
    """The metadata and the size of the library before the trailer."""
    if path.is_dir():
        raise InputError(f"{path}: is a directory, not a library built by `edgetune build`")
    if not path.is_file():
        raise InputError(f"artifact not found: {path}")
    with open(path, "rb") as f:
        f.seek(0, 2)
        size = f.tell()
        if size < 16:
            raise InputError(f"{path}: not an edgetune artifact (too small)")
        f.seek(size - 16)
        length_bytes, magic = f.read(8), f.read(8)
        (length,) = struct.unpack("<Q", length_bytes)
        if magic != MAGIC or length > size - 16:
            raise InputError(
                f"{path}: not an edgetune artifact (no metadata; build it with `edgetune build`)"
            )
        f.seek(size - 16 - length)
        try:
            meta = ArtifactMeta.from_json(json.loads(f.read(length)))
        except (ValueError, TypeError, KeyError, AttributeError):
            raise InputError(f"{path}: damaged edgetune metadata (rebuild it)") from None
    return meta, size - 16 - length
