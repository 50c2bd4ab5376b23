"""The emulated Cortex-A53 board `qemu-a53`: TVM's aarch64 RPC server under qemu-user.

Prepared once in a cache folder ($EDGETUNE_CACHE/qemu-a53, default ~/.cache/edgetune/qemu-a53):
- an arm64 sysroot unpacked from Debian .debs (python3.11 + libstdc++), resolved by apt with a
  private configuration, so the host's dpkg state is never touched;
- the aarch64 apache-tvm wheel (+ psutil, cloudpickle, tornado) fetched with
  `pip download --platform` and unpacked into the sysroot (runtime only: the 240 MB compiler
  library is dropped);
- `pyarm`, a host wrapper that runs the guest python under `qemu-aarch64-static -cpu cortex-a53`
  (ARMv8.2 instructions SIGILL as on a real Pi 3). TVM's server re-executes `sys.executable`,
  so a `sitecustomize` in the guest points it back at the wrapper: no binfmt_misc needed.

Emulated timings are 10-150x slower than an A53 and do not rank schedules: this board proves
correctness and plumbing, never performance.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

from ..errors import BoardError
from ..paths import cache_dir

TVM_VERSION = "0.27.0.post1"
GUEST_PACKAGES = ("python3.11", "libstdc++6")
GUEST_WHEELS = (f"apache-tvm=={TVM_VERSION}", "psutil", "cloudpickle", "tornado")
PLATFORM_ARGS = (
    "--platform",
    "manylinux_2_28_aarch64",
    "--platform",
    "manylinux2014_aarch64",
    "--python-version",
    "3.11",
    "--only-binary=:all:",
)
QEMU = "qemu-aarch64-static"
READY_MARK = f"ready-{TVM_VERSION}"

SITECUSTOMIZE = """\
# edgetune qemu-a53: TVM's rpc server re-executes sys.executable; point it at the host wrapper
import os, sys
_exe = os.environ.get("QEMU_GUEST_PYTHON")
if _exe:
    sys.executable = sys._base_executable = _exe
"""


def board_dir() -> Path:
    return cache_dir() / "qemu-a53"


def guest_python(root: Path | None = None) -> Path:
    """The host-executable wrapper that runs the guest's python3.11 under qemu."""
    return (root or board_dir()) / "pyarm"


def is_ready(root: Path | None = None) -> bool:
    """Prepared, and its parts still there (a cleaned cache can keep the mark alone)."""
    root = root or board_dir()
    return (root / READY_MARK).is_file() and not _missing(root)


def _missing(root: Path) -> list[str]:
    """The parts of a prepared board that are not there."""
    parts = [guest_python(root), root / "sysroot/usr/bin/python3.11", root / "sysroot/opt/pysite"]
    return [str(p) for p in parts if not p.exists()]


def prepare(root: Path | None = None, printer: Callable[[str], None] | None = None) -> Path:
    """Prepare the emulated board once (file lock: concurrent callers wait). Returns pyarm."""
    root = (root or board_dir()).resolve()
    root.mkdir(parents=True, exist_ok=True)
    say = printer or (lambda _msg: None)
    with open(root / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if is_ready(root):
            return guest_python(root)
        if shutil.which(QEMU) is None:
            raise BoardError(
                f"board 'qemu-a53': {QEMU} not found "
                "(install it: apt-get install qemu-user-static, or scripts/install_test_deps.sh)"
            )
        t0 = time.monotonic()
        if (root / READY_MARK).is_file():
            missing = ", ".join(_missing(root))
            say(f"qemu-a53: the emulated board in {root} lacks {missing}: preparing it again")
            (root / READY_MARK).unlink()
        say(f"qemu-a53: preparing the emulated board in {root} (first use only)")
        _sysroot(root)
        say(f"qemu-a53: arm64 sysroot ready [{time.monotonic() - t0:.0f} s]")
        _wheels(root)
        say(f"qemu-a53: aarch64 TVM wheel installed [{time.monotonic() - t0:.0f} s]")
        _wrapper(root)
        _smoke_test(root)
        (root / READY_MARK).write_text(
            f"prepared in {time.monotonic() - t0:.1f} s\n", encoding="utf-8"
        )
        say(f"qemu-a53: ready [{time.monotonic() - t0:.0f} s]")
        return guest_python(root)


def _run(cmd: list[str], what: str, env: dict[str, str] | None = None) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise BoardError(f"board 'qemu-a53': {what} failed: {' | '.join(tail)}")


def _apt_config(root: Path) -> Path:
    """A private apt configuration resolving arm64 packages from the host's Debian sources."""
    apt = root / "apt"
    for sub in ("state/lists/partial", "cache/archives/partial", "etc/sources.list.d"):
        (apt / sub).mkdir(parents=True, exist_ok=True)
    for sub in ("etc/preferences.d", "etc/apt.conf.d"):
        (apt / sub).mkdir(parents=True, exist_ok=True)
    (apt / "state/status").touch()
    sources = Path("/etc/apt/sources.list.d")
    found = False
    for src in sorted(sources.glob("*.sources")):
        text = src.read_text(encoding="utf-8")
        if "debian" not in text:
            continue
        lines = []
        for line in text.splitlines():
            lines.append(line)
            if line.startswith("Types:"):
                lines.append("Architectures: arm64")
        (apt / "etc/sources.list.d" / src.name).write_text(
            "\n".join(lines) + "\n", encoding="utf-8"
        )
        found = True
    if not found:
        raise BoardError("board 'qemu-a53': no Debian deb822 sources in /etc/apt/sources.list.d")
    conf = apt / "apt.conf"
    conf.write_text(
        f"""APT::Architecture "arm64"; APT::Architectures {{ "arm64"; }};
APT::Install-Recommends "false";
Dir::State "{apt}/state"; Dir::State::status "{apt}/state/status"; Dir::Cache "{apt}/cache";
Dir::Etc::SourceList "/dev/null"; Dir::Etc::SourceParts "{apt}/etc/sources.list.d";
Dir::Etc::Parts "{apt}/etc/apt.conf.d"; Dir::Etc::PreferencesParts "{apt}/etc/preferences.d";
Debug::NoLocking "true";
""",
        encoding="utf-8",
    )
    return conf


def _sysroot(root: Path) -> None:
    env = {**os.environ, "APT_CONFIG": str(_apt_config(root)), "DEBIAN_FRONTEND": "noninteractive"}
    _run(["apt-get", "update", "-qq"], "apt-get update (arm64 package lists)", env)
    _run(
        ["apt-get", "install", "--download-only", "-y", "-qq", *GUEST_PACKAGES],
        "downloading arm64 packages",
        env,
    )
    sysroot = root / "sysroot"
    shutil.rmtree(sysroot, ignore_errors=True)
    sysroot.mkdir()
    for deb in sorted((root / "apt/cache/archives").glob("*.deb")):
        _run(["dpkg-deb", "-x", str(deb), str(sysroot)], f"unpacking {deb.name}")


def _host_pins(path: Path) -> Path:
    """A pip constraints file pinning every package of the host's environment to its version.

    The guest then runs exactly the TVM, FFI and helpers the host was installed with (from the
    repo's constraints.txt), never whatever the registry serves today.
    """
    pins = sorted(
        {
            f"{d.metadata['Name']}=={d.version}"
            for d in metadata.distributions()
            if d.metadata["Name"] and d.metadata["Name"].lower() != "edgetune"
        }
    )
    path.write_text("\n".join(pins) + "\n", encoding="utf-8")
    return path


def _wheels(root: Path) -> None:
    wheels, site = root / "wheels", root / "sysroot/opt/pysite"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    pins = _host_pins(root / "host-pins.txt")
    _run(
        [*pip, "download", "-d", str(wheels), "-c", str(pins), *PLATFORM_ARGS, *GUEST_WHEELS],
        "pip download",
    )
    shutil.rmtree(site, ignore_errors=True)
    _run(
        [*pip, "install", "--no-index", "--no-deps", "--target", str(site), *PLATFORM_ARGS]
        + [str(w) for w in sorted(wheels.glob("*.whl"))],
        "installing aarch64 wheels",
    )
    (site / "tvm/lib/libtvm_compiler.so").unlink(missing_ok=True)  # runtime only on the board
    (site / "sitecustomize.py").write_text(SITECUSTOMIZE, encoding="utf-8")


def _wrapper(root: Path) -> None:
    wrapper = guest_python(root)
    sysroot = root / "sysroot"
    wrapper.write_text(
        f"""#!/bin/sh
# edgetune qemu-a53: the guest's python3.11 under qemu-user (-cpu cortex-a53: ARMv8.0 only)
export PYTHONPATH={sysroot}/opt/pysite QEMU_GUEST_PYTHON={wrapper}
exec {QEMU} -cpu "${{QEMU_CPU:-cortex-a53}}" -L {sysroot} {sysroot}/usr/bin/python3.11 "$@"
""",
        encoding="utf-8",
    )
    wrapper.chmod(0o755)


def _smoke_test(root: Path) -> None:
    probe = "import platform, tvm; print(platform.machine(), tvm.__version__)"
    proc = subprocess.run(
        [str(guest_python(root)), "-c", probe], capture_output=True, text=True, timeout=300
    )
    if proc.returncode != 0 or not proc.stdout.startswith("aarch64"):
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-2:]
        raise BoardError(f"board 'qemu-a53': guest python does not start: {' | '.join(tail)}")
