"""Toolchains: the C compiler that links exported libraries for a board."""

from __future__ import annotations

import functools
import platform
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import BoardError
from ..paths import toolchain_dirs
from .schema import check_toolchain, read_toml


@dataclass(frozen=True)
class Toolchain:
    """A compiler used to link TVM's object files into a shared library for a board."""

    name: str
    cc: str
    triple: str = ""
    options: tuple[str, ...] = ()
    install_hint: str = ""
    path: Path | None = field(default=None, compare=False)

    def compiler(self) -> str:
        """Absolute path of the compiler, or a BoardError saying how to install it."""
        found = shutil.which(self.cc)
        if found is None:
            hint = f" (install it: {self.install_hint})" if self.install_hint else ""
            raise BoardError(f"toolchain '{self.name}': compiler '{self.cc}' not found{hint}")
        return found

    def check(self, board: str, arch: str) -> None:
        """Link a one-function shared library with this toolchain, as an export would, for the
        board's architecture `arch`.

        Catches, before any tuning or compiling, what a user would otherwise meet as a raw
        linker dump after minutes of work: a missing compiler, sysroot or C library (crti.o),
        or a compiler for another architecture (the board file names none, or the host's).
        Raises a BoardError naming the board, the toolchain file and what to install.
        """
        where = f" ({self.path})" if self.path else ""
        # Debian's cross gcc falls back to its own C library when the sysroot is missing: the
        # library would link against other headers and libraries than the board has.
        missing = [d for d in _sysroots(self.options) if not Path(d).is_dir()]
        problem, machine = (
            (f"its sysroot '{missing[0]}' is not a folder", None)
            if missing
            else _link_probe(self.cc, self.options)
        )
        if problem:
            hint = f"; install it: {self.install_hint}" if self.install_hint else ""
            raise BoardError(
                f"board '{board}': toolchain '{self.name}'{where} cannot link a shared library: "
                f"{problem}{hint}"
            )
        if machine and arch in ELF_MACHINES and machine != ELF_MACHINES[arch]:
            links = next((a for a, m in ELF_MACHINES.items() if m == machine), f"machine {machine}")
            raise BoardError(
                f"board '{board}' targets {arch}, but its toolchain '{self.name}'{where} "
                f"('{self.cc}') links for {links}: name a toolchain for {arch} in the board file "
                "(toolchain = ...)"
            )

    def fcompile(self):
        """A TVM `fcompile` callable for `export_library` that links with this toolchain."""
        import tvm.support.cc as cc

        return cc.cross_compiler(self.compiler(), options=list(self.options))


ELF_MACHINES = {"x86_64": 62, "aarch64": 183, "arm": 40, "riscv64": 243}  # e_machine


def arch_of(triple: str) -> str:
    """The architecture of a target triple (or `uname -m`), as ELF_MACHINES names it."""
    arch = triple.split("-")[0]
    aliases = {"arm64": "aarch64", "amd64": "x86_64"}
    return aliases.get(arch, "arm" if arch.startswith(("arm", "thumb")) else arch)


def host_arch() -> str:
    """This machine's architecture, as ELF_MACHINES names it."""
    return arch_of(platform.machine())


def elf_machine(header: bytes) -> int | None:
    """The ELF machine (e_machine) of a file that starts with `header`; None if not ELF."""
    if header[:4] != b"\x7fELF" or len(header) < 20:
        return None
    return int.from_bytes(header[18:20], "little")


def _sysroots(options: tuple[str, ...]) -> list[str]:
    """The folders `options` give the compiler as its sysroot (`--sysroot=D`, `--sysroot D`)."""
    found = [o.split("=", 1)[1] for o in options if o.startswith("--sysroot=")]
    found += [b for a, b in zip(options, options[1:]) if a == "--sysroot"]
    return found


@functools.cache
def _link_probe(cc: str, options: tuple[str, ...]) -> tuple[str, int | None]:
    """(why `cc` cannot link a shared library, "" when it can; the ELF machine it links for);
    checked once per process."""
    compiler = shutil.which(cc)
    if compiler is None:
        return f"compiler '{cc}' not found", None
    with tempfile.TemporaryDirectory(prefix="edgetune-cc-") as tmp:
        src, out = Path(tmp) / "probe.c", Path(tmp) / "probe.so"
        src.write_text("int edgetune_probe(void) { return 0; }\n", encoding="utf-8")
        cmd = [compiler, "-shared", "-fPIC", *options, "-o", str(out), str(src)]
        try:
            res = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"'{cc}' did not run ({exc})", None
        header = out.read_bytes()[:20] if res.returncode == 0 and out.is_file() else b""
    if res.returncode == 0:
        return "", elf_machine(header)
    lines = [ln.strip() for ln in (res.stderr or res.stdout).splitlines() if ln.strip()]
    first = next(
        (ln for ln in lines if "cannot find" in ln or "error" in ln),
        lines[0] if lines else f"exit code {res.returncode}",
    )
    return first, None


def load_toolchain(name: str) -> Toolchain:
    """Load toolchains/NAME.toml from the toolchain search path."""
    for d in toolchain_dirs():
        path = d / f"{name}.toml"
        if path.is_file():
            data = read_toml(path, "toolchain")
            check_toolchain(data, f"toolchain file {path}")
            return Toolchain(
                name=data.get("name", name),
                cc=data["cc"],
                triple=data.get("triple", ""),
                options=tuple(data.get("options", [])),
                install_hint=data.get("install_hint", ""),
                path=path,
            )
    known = sorted({p.stem for d in toolchain_dirs() if d.is_dir() for p in d.glob("*.toml")})
    raise BoardError(f"unknown toolchain '{name}' (known: {', '.join(known) or 'none'})")
