"""`python -m edgetune` is the `edgetune` command."""

from .cli.main import main

raise SystemExit(main())
