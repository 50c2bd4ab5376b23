"""Board definitions: what to compile for, how to measure, and how to reach the board."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from ..errors import BoardError, first_line
from ..paths import board_dirs
from .schema import check_board, read_toml
from .toolchain import Toolchain, arch_of, host_arch, load_toolchain


@dataclass(frozen=True)
class Hardware:
    """What the search space needs to know about the board's processor."""

    cores: int
    vector_bits: int = 128
    max_threads_per_block: int = 256
    max_shared_memory_per_block: int = 32768


@dataclass(frozen=True)
class MeasureSettings:
    """Timeouts and repetition counts for candidate builds and runs."""

    build_timeout_s: float = 120.0
    run_timeout_s: float = 60.0
    number: int = 3
    repeat: int = 3
    min_repeat_ms: int = 50
    build_workers: int | None = None  # None: one per host core
    timing_note: str = ""  # printed with every timing of this board (emulated, PoCL, ...)
    cache_flush: bool = False  # flush the candidate's inputs and weights from the CPU caches

    def evaluator(self):
        """MetaSchedule's EvaluatorConfig for these settings.

        With `cache_flush`, every timed run starts with the weights out of the caches, as a
        kernel meets them inside the model (after the other kernels); use it with number = 1
        and min_repeat_ms = 0, or the runs after the first are warm again.
        """
        from ..tvm_api import ms

        return ms.runner.EvaluatorConfig(
            number=self.number,
            repeat=self.repeat,
            min_repeat_ms=self.min_repeat_ms,
            enable_cpu_cache_flush=self.cache_flush,
        )


@dataclass(frozen=True)
class Connection:
    """How measurements reach the board. `kind` is local, rpc, ssh or opencl.

    Farm-specific tables (ssh, serial, power) are kept as given in `extra` and interpreted by
    edgetune.farm.
    """

    kind: str = "local"
    tracker: str = ""
    key: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def tracker_host_port(self) -> tuple[str, int]:
        host, _, port = self.tracker.rpartition(":")
        if not host or not port.isdigit():
            raise BoardError(f"connection.tracker must be HOST:PORT, got '{self.tracker}'")
        return host, int(port)


@dataclass(frozen=True)
class Board:
    """A board: target, hardware facts, rule set, toolchain, connection, measure settings."""

    name: str
    description: str
    target_spec: dict[str, Any]
    hardware: Hardware
    rule_set: str
    toolchain_name: str
    connection: Connection
    measure: MeasureSettings
    rules_module: str = ""
    emulated: bool = False  # timings come from an emulator (qemu, PoCL): never the board's speed
    path: Path | None = None
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def is_host(self) -> bool:
        return self.connection.kind == "local"

    @property
    def argument(self) -> str:
        """How a command line names this board: its name when `--board NAME` finds this file,
        else the file's path."""
        found = _board_files().get(self.name, [None])[0]
        if self.path is None or (found is not None and found.resolve() == self.path.resolve()):
            return self.name
        return str(self.path)

    @property
    def device_type(self) -> str:
        """Runtime device type name ('cpu' or 'opencl')."""
        return "opencl" if self.target_spec.get("kind") == "opencl" else "cpu"

    def target(self):
        """The TVM target (JSON-dict form) with num-cores and, for GPUs, a host target."""
        import tvm

        spec = dict(self.target_spec)
        if spec.get("mcpu") == "native":
            spec["mcpu"] = tvm.target.codegen.llvm_get_system_cpu()
            said = {f.lstrip("+-") for f in spec.get("mattr", [])}  # "-amx-int8" turns AMX off
            extra = [f for f in host_feature_corrections() if f.lstrip("+-") not in said]
            if extra:
                spec["mattr"] = [*spec.get("mattr", []), *extra]
        host = spec.pop("host", None)
        if spec.get("kind") == "llvm":
            self._check_cpu(spec)
            spec.setdefault("num-cores", self.hardware.cores)
        else:
            hw = self.hardware
            spec.setdefault("max_num_threads", hw.max_threads_per_block)
            spec.setdefault("max_threads_per_block", hw.max_threads_per_block)
            spec.setdefault("max_shared_memory_per_block", hw.max_shared_memory_per_block)
            spec.setdefault("thread_warp_size", 1)
        if isinstance(host, dict) and host.get("kind", "llvm") == "llvm":
            self._check_cpu(host)
        if host is None and spec.get("kind") != "llvm":
            host = {"kind": "llvm"}
        try:
            return tvm.target.Target(spec, host=host) if host else tvm.target.Target(spec)
        except (ValueError, TypeError, RuntimeError) as err:  # an option TVM refuses
            where = f"board file {self.path or self.name}"
            why = first_line(err).split(". Target creation")[0]  # not the whole dict again
            raise BoardError(f"{where}: target: {why}") from None

    def _check_cpu(self, spec: dict[str, Any]) -> None:
        """BoardError for an `mcpu` or an `mattr` feature LLVM does not know for the target's
        triple (LLVM would log an error at every compile and generate code for a generic CPU,
        or without the feature)."""
        from difflib import get_close_matches

        import tvm

        codegen = tvm.target.codegen
        cpu = spec.get("mcpu")
        triple = spec.get("mtriple") or codegen.llvm_get_system_triple()
        self._check_features(spec.get("mattr") or [], triple)
        if cpu is None or cpu == "native" or codegen.llvm_is_valid_cpu(cpu, triple):
            return
        known = codegen.llvm_get_cpu_archlist(
            tvm.target.Target({"kind": "llvm", "mtriple": triple})
        )
        near = get_close_matches(cpu, list(known), n=4, cutoff=0.5)
        raise BoardError(
            f"board file {self.path or self.name}: mcpu {cpu!r} is not a CPU LLVM "
            f"{codegen.llvm_version_major()} knows for {triple}"
            + (
                f" (close: {', '.join(near)})"
                if near
                else f" ({len(known)} known, e.g. {', '.join(list(known)[:4])})"
            )
        )

    def _check_features(self, mattr: list[Any], triple: str) -> None:
        from difflib import get_close_matches

        where = f"board file {self.path or self.name}: mattr"
        known = llvm_features(triple)
        for feature in mattr:
            if not isinstance(feature, str) or feature[:1] not in ("+", "-"):
                raise BoardError(f"{where}: each feature is '+name' or '-name', got {feature!r}")
            if feature[1:] not in known:
                near = get_close_matches(feature[1:], sorted(known), n=3, cutoff=0.6)
                raise BoardError(
                    f"{where}: {feature!r} is not a feature LLVM knows for {triple}"
                    + (f" (close: {', '.join(feature[0] + n for n in near)})" if near else "")
                )

    def toolchain(self) -> Toolchain:
        try:
            return load_toolchain(self.toolchain_name)
        except BoardError as err:  # a typo in the board file: name it
            raise BoardError(f"board file {self.path or self.name}: toolchain: {err}") from None

    @property
    def arch(self) -> str:
        """The CPU architecture the board's code runs on (a GPU board's: its host CPU's)."""
        spec = self.target_spec
        host = spec.get("host") if spec.get("kind") != "llvm" else spec
        triple = host.get("mtriple") if isinstance(host, dict) else None
        return arch_of(triple) if triple else host_arch()

    @property
    def runs_here(self) -> bool:
        """Whether this machine runs the board's code (its architecture)."""
        return self.arch == host_arch()

    def check_toolchain(self) -> None:
        """Fail now, with one clear line, if this board's toolchain cannot link a library for
        it."""
        self.toolchain().check(self.name, self.arch)

    def summary(self) -> dict[str, Any]:
        """One line of `edgetune boards`."""
        conn = self.connection.kind
        if self.connection.key:
            conn += f" key={self.connection.key}"
        if self.connection.tracker:
            conn += f" tracker={self.connection.tracker}"
        return {
            "name": self.name,
            "target": _target_text(self.target_spec),
            "cores": self.hardware.cores,
            "rule_set": self.rule_set,
            "toolchain": self.toolchain_name,
            "connection": conn,
            "timings": "EMULATED" if self.emulated else "the board's",
            "description": self.description,
            "file": str(self.path) if self.path else None,
        }


@cache
def llvm_features(triple: str) -> frozenset[str]:
    """Every feature some CPU LLVM knows for `triple` has (the names `mattr` may use)."""
    import tvm

    codegen = tvm.target.codegen
    cpus = codegen.llvm_get_cpu_archlist(tvm.target.Target({"kind": "llvm", "mtriple": triple}))
    return frozenset().union(*(
        codegen.llvm_get_cpu_features(
            tvm.target.Target({"kind": "llvm", "mtriple": triple, "mcpu": cpu})
        )
        for cpu in cpus
    ))  # fmt: skip


def _target_text(spec: dict[str, Any]) -> str:
    parts = [str(spec.get("kind", "?"))]
    for key in ("device", "mtriple", "mcpu"):
        if key in spec:
            parts.append(f"{key}={spec[key]}")
    if spec.get("mattr"):
        parts.append("mattr=" + ",".join(spec["mattr"]))
    return " ".join(parts)


def _board_files() -> dict[str, list[Path]]:
    """Board name -> its files on the search path, the one in use first."""
    files: dict[str, list[Path]] = {}
    seen = set()  # a folder on the path twice ($EDGETUNE_BOARDS naming the shipped one) counts once
    for d in board_dirs():
        if d.is_dir() and d.resolve() not in seen:
            seen.add(d.resolve())
            for p in sorted(d.glob("*.toml")):
                files.setdefault(p.stem, []).append(p)
    return files


def known_boards() -> list[str]:
    return sorted(_board_files())


def shadowed_boards() -> dict[str, list[Path]]:
    """Boards defined more than once on the search path ($EDGETUNE_BOARDS first): name -> files,
    the one in use first."""
    return {name: paths for name, paths in _board_files().items() if len(paths) > 1}


def load_board(name_or_path: str) -> Board:
    """Load a board by name (boards/NAME.toml) or by the path of a .toml file."""
    path = Path(name_or_path)
    if name_or_path.endswith(".toml") and not path.is_file():
        raise BoardError(f"board file {name_or_path} not found (or not a file)")
    if not name_or_path.endswith(".toml"):
        files = _board_files()
        if name_or_path not in files:
            raise BoardError(
                f"unknown board '{name_or_path}' (known boards: {', '.join(sorted(files))})"
            )
        path = files[name_or_path][0]
    data = read_toml(path, "board")
    named = data.get("name", path.stem)
    if path.stem == name_or_path and named != path.stem:  # records are kept by board name
        raise BoardError(
            f"board file {path} names its board {named!r}, but boards are found by their "
            f"file's name: rename the file to {named}.toml or set name = {path.stem!r}"
        )
    return board_from_dict(data, path)


def board_from_dict(data: dict[str, Any], path: Path | None = None) -> Board:
    """Build a Board from the parsed TOML, every key checked (`schema.BOARD`)."""
    where = f"board file {path}" if path else "board"
    check_board(data, where)
    try:
        target_spec = dict(data["target"])
        hw = dict(data.get("hardware", {}))
        cores = hw.get("cores", "auto")
        hw["cores"] = os.cpu_count() or 1 if cores == "auto" else int(cores)
        conn = dict(data.get("connection", {"kind": "local"}))
        connection = Connection(
            kind=conn.pop("kind", "local"),
            tracker=conn.pop("tracker", ""),
            key=conn.pop("key", ""),
            extra=conn,
        )
        board = Board(
            name=data.get("name", path.stem if path else "board"),
            description=data.get("description", ""),
            target_spec=target_spec,
            hardware=Hardware(**hw),
            rule_set=data.get("rule_set", "default"),
            toolchain_name=data.get("toolchain", "host"),
            connection=connection,
            measure=MeasureSettings(**data.get("measure", {})),
            rules_module=data.get("rules_module", ""),
            emulated=data.get("emulated", False),
            path=path,
            raw=data,
        )
    except KeyError as err:
        raise BoardError(f"{where}: missing required key {err}") from None
    except TypeError as err:
        raise BoardError(f"{where}: {err}") from None
    if cores == "auto" and not board.runs_here:
        raise BoardError(
            f"{where}: [hardware] cores is needed: the board runs {board.arch} code, and "
            "'auto' would count the cores of this machine"
        )
    return board


# CPU flags Linux reports (/proc/cpuinfo) -> the LLVM features of the vector units edgetune's
# kernels use. LLVM names this machine's CPU by its CPUID model, and a virtual machine may
# expose more or less than that model has: a Sapphire Rapids guest read "rocketlake" (a CPU
# without AMX), an Emerald Rapids guest whose hypervisor hides AMX reads "emeraldrapids" (AMX
# implied: its tile instructions then fault). The flags decide.
HOST_FLAG_FEATURES = {
    "avx512f": "avx512f",
    "avx512bw": "avx512bw",
    "avx512vl": "avx512vl",
    "avx512_vnni": "avx512vnni",
    "avx_vnni": "avxvnni",
    "avx512_bf16": "avx512bf16",
    "avx512_fp16": "avx512fp16",
    "amx_tile": "amx-tile",
    "amx_int8": "amx-int8",
    "amx_bf16": "amx-bf16",
}


def cpu_flags() -> set[str]:
    """The flags Linux reports for this machine's first CPU (empty where it reports none)."""
    try:
        return set(
            Path("/proc/cpuinfo")
            .read_text(encoding="utf-8")
            .split("flags", 1)[1]
            .split("\n", 1)[0]
            .split()
        )
    except (OSError, IndexError):
        return set()


@cache
def host_feature_corrections() -> tuple[str, ...]:
    """LLVM mattr entries that make LLVM's name for this machine's CPU match what its flags
    report: "+f" for a feature (HOST_FLAG_FEATURES) the CPU has beyond its name, "-f" for one the
    name implies but the CPU lacks (read once per process: every `Board.target()` of a native
    board asks)."""
    import tvm

    flags = cpu_flags()
    if not flags:
        return ()
    cpu = tvm.target.codegen.llvm_get_system_cpu()
    named = tvm.target.Target({"kind": "llvm", "mcpu": cpu})
    corrections = []
    for flag, feature in HOST_FLAG_FEATURES.items():
        implied = bool(tvm.target.codegen.target_has_features(feature, named))
        if (flag in flags) != implied:
            corrections.append(("+" if flag in flags else "-") + feature)
    return tuple(corrections)
