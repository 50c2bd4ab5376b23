"""Artifact metadata: a JSON trailer appended to the exported shared library.

The loader maps an ELF file through its program headers and ignores bytes past the sections, so
`model.so` stays loadable while carrying what `edgetune run` needs (inputs, outputs, dtypes,
quantization, board). Layout at the end of the file: JSON bytes, 8-byte little-endian length,
8-byte magic.
"""

from __future__ import annotations

import json
import struct
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

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

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["model"] = self.model.to_json()
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ArtifactMeta:
        return cls(**{**data, "model": ModelInfo.from_json(data["model"])})


def write_artifact_meta(path: str | Path, meta: ArtifactMeta) -> None:
    payload = json.dumps(meta.to_json(), sort_keys=True).encode()
    with open(path, "ab") as f:
        f.write(payload + struct.pack("<Q", len(payload)) + MAGIC)


def read_artifact_meta(path: str | Path, board: str | None = None) -> ArtifactMeta:
    """Metadata of an artifact built by `edgetune build`; InputError for anything else, and
    BoardError if `board` is given and the artifact was built for another board."""
    meta = _read(Path(path))
    if board is not None and meta.board != board:
        raise BoardError(f"{path} was built for board '{meta.board}', not '{board}'")
    return meta


def _read(path: Path) -> ArtifactMeta:
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
        return ArtifactMeta.from_json(json.loads(f.read(length)))
