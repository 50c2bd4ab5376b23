#!/usr/bin/env bash
# The test command (README, .ci/run): installs what the tests need, then runs them.
#   Debian packages: scripts/install_test_deps.sh; Python: edgetune with its [test] extra.
# Extra arguments go to pytest (e.g. `bash scripts/test.sh -k farm`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install_test_deps.sh
python3 -m pip install -q --root-user-action=ignore --disable-pip-version-check -e ".[test]"
python3 -m ruff check edgetune tests scripts
exec python3 -m pytest -q "$@"
