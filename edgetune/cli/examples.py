"""Examples (and exit statuses) at the end of the main commands' --help, in one place."""

from __future__ import annotations

import argparse
import textwrap
from typing import Any

EXIT_STATUS = (
    "exit status: 0 done; 1 nothing could be measured (every candidate failed); 2 bad input, "
    "an unknown or unreachable board, a board lost while tuning (measured trials kept); 130 "
    "interrupted (measured trials kept: the same command resumes)"
)

EXAMPLES: dict[str, list[tuple[str, str]]] = {
    "tune": [
        ("edgetune tune mobilenet_v2_fp32 --records r --trials 400", "the host board"),
        ("edgetune tune model.tflite --board rpi3 --records r-rpi3", "a farm board"),
        ("edgetune tune model.tflite --records r --trials 800", "resume r up to 800 trials"),
        ("edgetune tune model.tflite --records r --no-library", "measure every task afresh"),
    ],
    "build": [
        ("edgetune build mobilenet_v2_fp32 --records r -o mnv2.so", "the host board"),
        ("edgetune build model.tflite --board rpi3 --records r-rpi3 -o m.so", "cross-compiled"),
        ("edgetune build model.tflite -o m.so", "untuned (TVM's default schedules)"),
    ],
    "compare": [
        ("edgetune compare mobilenet_v2_fp32 --records r", "tuned build against LiteRT"),
        ("edgetune compare kws.tflite --input frames.npy --steps 4", "a stream, states carried"),
    ],
    "tasks": [
        ("edgetune tasks mobilenet_v2_int8", "the host board's tasks, what the library knows"),
        ("edgetune tasks model.tflite --board rpi3 --json", "a farm board's, as JSON"),
    ],
    "profile": [
        ("edgetune profile mobilenet_v2_fp32 --records r", "each kernel's time in the model"),
        ("edgetune profile model.tflite --records r --runs 50 --top 10", "the ten slowest"),
    ],
    "deploy": [
        ("edgetune deploy m.so --board rpi3", "push, run there, report latency"),
        ("edgetune deploy m.so --board rpi3 --input x.npy --output y.npy", "with your input"),
    ],
    "report": [
        ("edgetune report r -o report.html", "charts, tasks, failures of a tune"),
        ("edgetune report r --with r-other --format md -o r.md", "two tunes side by side"),
    ],
    "ci": [
        ("edgetune ci ci.toml --update-baseline", "once: measure and store the baseline"),
        ("edgetune ci ci.toml --out ci-out", "every change: judge it against the baseline"),
    ],
    "space": [
        ("edgetune space mobilenet_v2_fp32 0", "task 0 on the host board's rules"),
        ("edgetune space model.tflite 3 --board mali-pocl --samples 4", "Mali's rules"),
    ],
    "run": [
        ("edgetune run m.so --input x.npy --output y.npy", "on the host board"),
        ("edgetune run m.so --board rpi3 --repeat 100 --json", "on a farm board, as JSON"),
    ],
}


def help_extras(command: str) -> dict[str, Any]:
    """`add_parser` keywords that end the command's --help with its examples (and, for tune,
    its exit statuses)."""
    rows = EXAMPLES[command]
    width = max(len(cmd) for cmd, _ in rows) + 2
    lines = ["examples:", *(f"  {cmd:<{width}}{what}" for cmd, what in rows)]
    if command == "tune":
        lines += ["", *textwrap.wrap(EXIT_STATUS, 79)]
    return {"epilog": "\n".join(lines), "formatter_class": _Formatter}


class _Formatter(argparse.HelpFormatter):
    """Descriptions wrapped as usual; the epilog's lines kept as written."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if text.startswith("examples:"):
            return "\n".join(indent + line for line in text.splitlines())
        return super()._fill_text(text, width, indent)
