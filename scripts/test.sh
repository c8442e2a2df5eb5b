#!/usr/bin/env bash
# Sets up the environment (scripts/setup.sh) and runs the whole test suite: ruff, then pytest.
# Extra arguments go to pytest, e.g. `bash scripts/test.sh -k windowing`.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="$(bash scripts/setup.sh | tail -n 1)"
"$VENV/bin/ruff" check .
"$VENV/bin/python" -m pytest "$@"
