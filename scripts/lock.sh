#!/usr/bin/env bash
# Refresh constraints.txt: resolve edgetune with every extra in a brand-new virtual environment,
# today, and pin every package exactly. Run the tests (bash scripts/test.sh) before committing.
#   bash scripts/lock.sh
set -euo pipefail
cd "$(dirname "$0")/.."
venv="$(mktemp -d)/venv"
python3 -m venv "$venv"
"$venv/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip
"$venv/bin/python" -m pip install -q --disable-pip-version-check -e ".[test,litert,opencl]"
{
  echo "# Every Python package edgetune, its tests and extras install, pinned to versions tested"
  echo "# together (scripts/test.sh installs through this file). Refresh: bash scripts/lock.sh"
  "$venv/bin/python" -m pip freeze --exclude-editable | grep -v '^edgetune'
} > constraints.txt
rm -rf "$(dirname "$venv")"
echo "wrote constraints.txt ($(grep -vc '^#' constraints.txt) pins)"
