"""edgetune: host-side auto-tuner and cross-compilation toolchain for edge boards."""

__version__ = "0.1.0"
