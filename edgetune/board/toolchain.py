"""Toolchains: the C compiler that links exported libraries for a board."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

import tomllib

from ..errors import BoardError
from ..paths import toolchain_dirs


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

    def fcompile(self):
        """A TVM `fcompile` callable for `export_library` that links with this toolchain."""
        import tvm.support.cc as cc

        return cc.cross_compiler(self.compiler(), options=list(self.options))


def load_toolchain(name: str) -> Toolchain:
    """Load toolchains/NAME.toml from the toolchain search path."""
    for d in toolchain_dirs():
        path = d / f"{name}.toml"
        if path.is_file():
            data = tomllib.loads(path.read_text())
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
