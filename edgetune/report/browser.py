"""Headless Chromium, for PNGs of charts and pages (no screen needed)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from ..errors import InputError, last_line

NAMES = ("chromium", "chromium-browser", "google-chrome", "chrome")
TIMEOUT_S = 60


def chromium() -> str:
    """Path of a Chromium-like browser: $EDGETUNE_CHROMIUM, else the first of NAMES on PATH."""
    on_path = (shutil.which(name) for name in NAMES)
    given = os.environ.get("EDGETUNE_CHROMIUM")
    if given and not shutil.which(given):
        raise InputError(f"$EDGETUNE_CHROMIUM={given}: not an executable program")
    found = given or next(filter(None, on_path), None)
    if not found:
        raise InputError(
            "PNG output needs Chromium (headless): install it (Debian: apt-get install chromium) "
            "or point $EDGETUNE_CHROMIUM at it"
        )
    return found


def screenshot(page: str | Path, png: str | Path, width: int, height: int) -> Path:
    """Render a local page (HTML or SVG) at width x height CSS pixels into `png`."""
    png = Path(png).resolve()
    with tempfile.TemporaryDirectory(prefix="edgetune-chromium-") as profile:
        cmd = [
            chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
            "--no-first-run", f"--user-data-dir={profile}", f"--window-size={width},{height}",
            f"--screenshot={png}", Path(page).resolve().as_uri(),
        ]  # fmt: skip
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT_S)
    if done.returncode or not png.is_file():
        last = last_line(done.stderr, "no output")
        raise InputError(f"Chromium could not render {page} to {png}: {last}")
    return png
