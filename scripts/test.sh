#!/usr/bin/env bash
# The test command (README, .ci/run): installs what the tests need, then runs them.
#   Debian packages: scripts/install_test_deps.sh;
#   Python: edgetune with its [test] extra, through the pins in constraints.txt, into a virtual
#   environment ($EDGETUNE_TEST_VENV, default .venv; created if missing), never the machine's
#   site-packages.
# Extra arguments go to pytest (e.g. `bash scripts/test.sh -k farm`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install_test_deps.sh
venv="${EDGETUNE_TEST_VENV:-.venv}"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
py="$venv/bin/python"
"$py" -m pip install -q --disable-pip-version-check -c constraints.txt -e ".[test]"
"$py" -m ruff check edgetune tests scripts
exec "$py" -m pytest -q "$@"
