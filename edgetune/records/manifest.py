"""The manifest of a records folder: which model and board its measurements belong to."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import __version__
from ..errors import RecordsError
from ..quant.float_requantization import FIXED_POINT
from .layout import COST_MODELS, MANIFEST

if TYPE_CHECKING:
    from ..board import Board
    from ..frontend import ModelInfo

REUSED = "library_reused"  # {workload hash: records copied in from the library} (not measured)
LIBRARY_SYNC = "library_synced"  # {library folder: lines of the records already added to it}


def read_manifest(folder: Path, name: str = MANIFEST) -> dict[str, Any] | None:
    """The folder's manifest, None if it has none; RecordsError if it is damaged."""
    manifest = folder / name
    if not manifest.is_file():
        return None
    try:
        data = json.loads(manifest.read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            raise json.JSONDecodeError("not an object", "", 0)
        return data
    except json.JSONDecodeError:
        raise RecordsError(
            f"{manifest}: damaged manifest (not JSON): it says which model and board the "
            "folder's records are of; restore it (edgetune writes it whole, so a hand edit or "
            "a copy cut short), or use another folder"
        ) from None


def tuned_requantization(folder: str | Path | None) -> str:
    """The requantization a records folder's int8 kernels were tuned with (fixed-point for a
    folder that does not exist yet or predates the choice)."""
    data = read_manifest(Path(folder)) if folder else None
    return (data or {}).get("requantization", FIXED_POINT)


def tuned_input_shapes(folder: str | Path | None, model: Path) -> list[str]:
    """The input shapes a records folder was tuned with, as --input-shape values (none for a
    folder that does not exist yet, predates them or belongs to another model)."""
    data = read_manifest(Path(folder)) if folder and Path(folder).is_dir() else None
    if not data or data.get("model_sha256") != hashlib.sha256(model.read_bytes()).hexdigest():
        return []
    return _shape_args(data.get("input_shapes") or {})


def _input_shapes(model: ModelInfo) -> dict[str, list[int]]:
    return {t.name: [int(d) for d in t.shape] for t in model.inputs}


def _shape_args(shapes: dict[str, list[int]]) -> list[str]:
    return [f"{name}={','.join(map(str, shape))}" for name, shape in shapes.items()]


def write_manifest(folder: Path, model: ModelInfo, board: Board) -> None:
    data = {
        "model": model.name,
        "model_sha256": model.sha256,
        "requantization": model.requantization,
        "input_shapes": _input_shapes(model),
        "board": board.name,
        "target": board.target_spec,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "edgetune_version": __version__,
    }
    _write(folder, data)


def update_manifest(folder: Path, **fields: Any) -> None:
    """Set fields of the folder's manifest (written whole, atomically)."""
    _write(folder, {**(read_manifest(folder) or {}), **fields})


def _write(folder: Path, data: dict[str, Any]) -> None:
    """The manifest written whole, atomically: a kill or a full disk leaves the old one."""
    tmp = folder / (MANIFEST + ".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    tmp.replace(folder / MANIFEST)


def check_existing(folder: str | Path, model: ModelInfo, board: Board) -> dict[str, Any] | None:
    """The manifest of `folder` (None if it has none); RecordsError if it is a records folder
    of another model or board (nothing is read or made beyond its manifest)."""
    data = read_manifest(Path(folder))
    if data is not None:
        check_owner(Path(folder), data, model, board)
    return data


def check_owner(folder: Path, data: dict[str, Any], model: ModelInfo, board: Board) -> None:
    """RecordsError unless the manifest names this model and board."""
    if data.get("model_sha256") != model.sha256 and data.get("model") == model.name:
        raise RecordsError(
            f"records folder {folder} was tuned for another version of model '{model.name}' "
            f"(sha256 {str(data.get('model_sha256'))[:12]}; this file: {model.sha256[:12]}): "
            "the model file changed since (retrained? tune it into another records folder: "
            "the library reuses the tasks it shares)"
        )
    if data.get("model_sha256") != model.sha256:
        raise RecordsError(
            f"records folder {folder} belongs to model '{data.get('model')}' "
            f"(sha256 {str(data.get('model_sha256'))[:12]}), not '{model.name}' "
            f"(sha256 {model.sha256[:12]}): use another records folder"
        )
    if data.get("board") != board.name:
        raise RecordsError(
            f"records folder {folder} belongs to board '{data.get('board')}', "
            f"not '{board.name}': use another records folder"
        )
    if "target" in data and _spec(data["target"]) != _spec(board.target_spec):
        raise RecordsError(
            f"records folder {folder} was tuned for target {_spec(data['target'])}, and board "
            f"'{board.name}' now targets {_spec(board.target_spec)} (its board file changed, or "
            "another file of that name): records do not transfer between targets; use another "
            "--records folder"
        )
    tuned_shapes = data.get("input_shapes")
    if tuned_shapes is not None and tuned_shapes != _input_shapes(model):
        given = " ".join(_shape_args(_input_shapes(model)))
        again = " ".join(f"--input-shape {a}" for a in _shape_args(tuned_shapes))
        raise RecordsError(
            f"records folder {folder} was tuned with other input shapes than {given} (other "
            f"kernels): pass {again}, or use another records folder"
        )
    tuned_with = data.get("requantization", FIXED_POINT)
    if model.quantized and tuned_with != model.requantization:
        raise RecordsError(
            f"records folder {folder} was tuned with --requantize {tuned_with}, not "
            f"{model.requantization} (other kernels): pass --requantize {tuned_with}, or use "
            "another records folder"
        )


def _spec(target: Any) -> str:
    """A target as written in a manifest or board file, in one canonical JSON form."""
    return json.dumps(target, sort_keys=True)


def warm_start_folder(path: str | Path, board: Board) -> Path:
    """Check that `path` is a records folder of `board` with saved cost models (--warm-start)."""
    path = Path(path)
    data = read_manifest(path)
    if data is None:
        raise RecordsError(f"--warm-start {path}: not an edgetune records folder (no {MANIFEST})")
    owner = data.get("board")
    if owner != board.name:
        raise RecordsError(
            f"--warm-start {path}: records of board '{owner}', not '{board.name}' (cost models "
            "do not transfer between boards)"
        )
    if not (path / COST_MODELS).is_dir():
        raise RecordsError(
            f"--warm-start {path}: no {COST_MODELS}/ (tune it with --search family first)"
        )
    return path
