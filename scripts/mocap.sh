#!/usr/bin/env bash
# The main job: video -> result directory, .blend (character over the video) and FBX.
#   bash scripts/mocap.sh VIDEO OUT_DIR [extra `python -m backend run` options, e.g. --device cpu]
# Sets up .venv first (scripts/setup.sh). Model data: $TCMR_DATA_DIR or the per-user data
# folder (see README "Model data"); without it, it stops at once with `check`'s report.
# Writes OUT_DIR/result/ (Contract 3, docs/contracts.md), OUT_DIR/mocap.blend and OUT_DIR/mocap.fbx.
# FBX preset: $TCMR_FBX_TARGET = GENERIC (default), UNITY or UNREAL.
# $TCMR_PYTHON = an interpreter to use instead of setting up .venv.
set -euo pipefail
if [ "$#" -lt 2 ]; then
  echo "usage: bash scripts/mocap.sh VIDEO OUT_DIR [run options]" >&2
  exit 64
fi
abspath() { python3 -c 'import os,sys; print(os.path.abspath(sys.argv[1]))' "$1"; }
VIDEO="$(abspath "$1")"
OUT="$(abspath "$2")"
shift 2
cd "$(dirname "$0")/.."
if [ ! -e "$VIDEO" ]; then
  echo "mocap: video not found: $VIDEO" >&2
  exit 2
fi
if [ -n "${TCMR_PYTHON:-}" ]; then
  PY="$TCMR_PYTHON"  # an environment you set up yourself (torch, bpy 5.0.1, the backend's packages)
else
  VENV="$(bash scripts/setup.sh | tail -n 1)"
  PY="$VENV/bin/python"
fi
DATA_ARGS=()
if [ -n "${TCMR_DATA_DIR:-}" ]; then DATA_ARGS=(--data-dir "$TCMR_DATA_DIR"); fi

echo "mocap: checking the model data" >&2
if ! "$PY" -m backend check "${DATA_ARGS[@]}" </dev/null; then
  echo "mocap: the model data is missing or invalid (report above); nothing was processed." >&2
  echo "mocap: install it as described in README.md, 'Model data', then run this again." >&2
  exit 2
fi

mkdir -p "$OUT"
RESULT="$OUT/result"  # an earlier result there stays as it is until the new one is complete (atomic)
echo "mocap: running the backend on $VIDEO" >&2
"$PY" -m backend run "$VIDEO" --out "$RESULT" "${DATA_ARGS[@]}" "$@"
echo "mocap: building the character, the .blend and the FBX (headless Blender)" >&2
"$PY" scripts/headless_blender.py --result "$RESULT" --blend "$OUT/mocap.blend" --fbx "$OUT/mocap.fbx" \
  --target "${TCMR_FBX_TARGET:-GENERIC}" "${DATA_ARGS[@]}"
echo "mocap: done"
echo "  result: $RESULT"
echo "  blend:  $OUT/mocap.blend"
echo "  fbx:    $OUT/mocap.fbx"
