#!/usr/bin/env bash
# Creates (or updates) the project's virtual environment with everything the backend, the
# headless Blender steps and the tests need: Python 3.11 (bpy needs it), torch (CPU wheel by
# default), smplx, numpy<2, opencv-python, scipy, platformdirs, bpy 5.0.1, pytest, ruff and Ray core
# (the `test` extra: ray without [default], for the `batch --ray local` tests).
#   VENV=path      where the environment lives (default: .venv in the repository)
#   TORCH_SPEC=..  torch requirement (default: torch==2.13.0, the local CPU wheel here;
#                  e.g. "torch --index-url https://download.pytorch.org/whl/cu128" for CUDA)
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${VENV:-.venv}"
TORCH_SPEC="${TORCH_SPEC:-torch==2.13.0}"
PY="${PYTHON:-}"
if [ -z "$PY" ]; then
  for candidate in python3.11 python3; do
    if command -v "$candidate" >/dev/null 2>&1; then PY="$candidate"; break; fi
  done
fi
if ! "$PY" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
  echo "setup: Python 3.11 is required (bpy 5.0.1 is built for it); found $("$PY" --version 2>&1)." >&2
  echo "setup: install Python 3.11 and run again with PYTHON=/path/to/python3.11" >&2
  exit 1
fi
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
stamp="$VENV/.tcmr-setup-$(cat pyproject.toml scripts/setup.sh | sha1sum | cut -c1-12)-$(echo "$TORCH_SPEC" | sha1sum | cut -c1-8)"
if [ ! -f "$stamp" ]; then
  "$VENV/bin/python" -m pip install -q --upgrade pip
  # shellcheck disable=SC2086
  "$VENV/bin/python" -m pip install -q $TORCH_SPEC
  "$VENV/bin/python" -m pip install -q -e ".[blender,test]"
  rm -f "$VENV"/.tcmr-setup-*
  touch "$stamp"
fi
echo "$VENV"
