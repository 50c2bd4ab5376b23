"""Where edgetune finds its data: board and toolchain definitions and the shipped models."""

from __future__ import annotations

import os
import sys
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_DIR = PACKAGE_DIR.parent
MODELS_DIR = PACKAGE_DIR / "models"


def _shipped(kind: str) -> Path:
    """The shipped `kind` folder (boards, toolchains): the checkout's (an editable install), else
    the one a wheel installs under the environment's share/edgetune."""
    checkout = REPO_DIR / kind
    return checkout if checkout.is_dir() else Path(sys.prefix) / "share" / "edgetune" / kind


def board_dirs() -> list[Path]:
    """Board search path: $EDGETUNE_BOARDS (os.pathsep separated), then the shipped boards/."""
    extra = [Path(p) for p in os.environ.get("EDGETUNE_BOARDS", "").split(os.pathsep) if p]
    return [*extra, _shipped("boards")]


def toolchain_dirs() -> list[Path]:
    """Toolchain search path: $EDGETUNE_TOOLCHAINS, then the shipped toolchains/."""
    extra = [Path(p) for p in os.environ.get("EDGETUNE_TOOLCHAINS", "").split(os.pathsep) if p]
    return [*extra, _shipped("toolchains")]


def shipped_model(name: str) -> Path:
    """Path of a model shipped inside the package (edgetune/models/NAME)."""
    return MODELS_DIR / name


def cache_dir() -> Path:
    """edgetune's cache folder: $EDGETUNE_CACHE, else $XDG_CACHE_HOME/edgetune (an absolute
    one, as the XDG spec says), else ~/.cache/edgetune."""
    if env := os.environ.get("EDGETUNE_CACHE"):
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    return (Path(xdg) if os.path.isabs(xdg) else Path.home() / ".cache") / "edgetune"


def library_dir() -> Path:
    """The default records library: $EDGETUNE_LIBRARY, else the cache folder's `library`."""
    env = os.environ.get("EDGETUNE_LIBRARY")
    return Path(env) if env else cache_dir() / "library"
