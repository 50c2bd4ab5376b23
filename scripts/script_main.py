"""How the scripts here end: Ctrl-C as one line and exit 130 (what ran is not written), an
edgetune error (a bad model, records folder or board) as one line and exit 2, no traceback."""

from __future__ import annotations

import sys
from collections.abc import Callable


def run_main(main: Callable[[], int | None]) -> None:
    """Call a script's `main` and exit with its status."""
    from edgetune.errors import EdgetuneError

    try:
        code = main()
    except KeyboardInterrupt:
        print(f"{sys.argv[0]}: interrupted; nothing more is measured or written", file=sys.stderr)
        sys.exit(130)
    except EdgetuneError as err:
        print(f"{sys.argv[0]}: error: {err}", file=sys.stderr)
        sys.exit(err.exit_code)
    sys.exit(code or 0)
