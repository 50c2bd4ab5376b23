"""`python -m edgetune` is the `edgetune` command."""

from .cli.entry import main

raise SystemExit(main())
