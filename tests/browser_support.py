"""Open a page in real headless Chromium through chromedriver (WebDriver over plain HTTP):
console messages, visible text and a screenshot of the whole page."""

from __future__ import annotations

import base64
import json
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
DRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
WIDTH = 1200


@dataclass
class PageVisit:
    console: list[dict]  # WebDriver browser log entries: level, source, message
    text: str  # document.body.innerText
    png: bytes  # screenshot of the whole page


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def visit(page: Path) -> PageVisit:
    """Load `page` (a local file) in headless Chromium and read what a user would see."""
    port = _free_port()
    driver = subprocess.Popen([DRIVER, f"--port={port}"], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)  # fmt: skip

    def call(method: str, path: str, body: dict | None = None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method=method,
                                     headers={"Content-Type": "application/json"})  # fmt: skip
        with urllib.request.urlopen(req, timeout=60) as resp:
            return json.load(resp)["value"]

    try:
        for _ in range(100):
            try:
                call("GET", "/status")
                break
            except OSError:
                time.sleep(0.1)
        with tempfile.TemporaryDirectory() as profile:
            args = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    f"--user-data-dir={profile}", f"--window-size={WIDTH},800"]  # fmt: skip
            caps = {"goog:chromeOptions": {"binary": CHROMIUM, "args": args},
                    "goog:loggingPrefs": {"browser": "ALL"}}  # fmt: skip
            sid = call("POST", "/session", {"capabilities": {"alwaysMatch": caps}})["sessionId"]
            try:
                call("POST", f"/session/{sid}/url", {"url": page.resolve().as_uri()})

                def script(js: str):
                    return call("POST", f"/session/{sid}/execute/sync", {"script": js, "args": []})

                text = script("return document.body.innerText")
                height = script("return document.documentElement.scrollHeight")
                chrome = script("return window.outerHeight - window.innerHeight")
                size = {"width": WIDTH, "height": height + chrome}
                call("POST", f"/session/{sid}/window/rect", size)
                png = base64.b64decode(call("GET", f"/session/{sid}/screenshot"))
                console = call("POST", f"/session/{sid}/se/log", {"type": "browser"})
            finally:
                call("DELETE", f"/session/{sid}")
    finally:
        driver.terminate()
        driver.wait(timeout=30)
    return PageVisit(console, text, png)


def pixel_spread(png: bytes) -> float:
    """Standard deviation of the screenshot's grey levels (0 for a blank page)."""
    import io

    import numpy as np
    from PIL import Image

    grey = np.asarray(Image.open(io.BytesIO(png)).convert("L"), dtype=float)
    return float(grey.std())
