"""edgetune: host-side auto-tuner and cross-compilation toolchain for edge boards."""

__version__ = "0.1.0"


def version_text() -> str:
    """edgetune's version and the TVM it runs on (records and libraries are keyed by both)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        tvm = f"apache-tvm {version('apache-tvm')}, apache-tvm-ffi {version('apache-tvm-ffi')}"
    except PackageNotFoundError:
        tvm = "apache-tvm not installed"
    return f"edgetune {__version__} ({tvm})"
