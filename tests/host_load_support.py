"""Load on the host for tests of what edgetune measures of it: a process spinning on CPU 0."""

from __future__ import annotations

import subprocess
import sys

SPIN = "import time\nend = time.time() + 60\nwhile time.time() < end: pass\n"


def spin_on_cpu0(own: bool) -> int:
    """A process spinning on CPU 0 for a minute: this process's child (`own`), or a foreign one
    (its parent, a shell, has exited); its pid."""
    argv = ["taskset", "-c", "0", sys.executable, "-c", SPIN]
    if own:
        return subprocess.Popen(argv).pid
    shell = f"{' '.join(argv[:4])} -c '{SPIN}' >/dev/null 2>&1 & echo $!"
    return int(subprocess.run(["sh", "-c", shell], capture_output=True, text=True).stdout)
