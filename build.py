"""Build the installable Blender extension zip: `python build.py [--out dist/]`.

Zip root = the add-on package (addon/*) + `backend/` (the backend's source, launched by the
add-on as `python -m backend` with the install folder on PYTHONPATH) + blender_manifest.toml.
No weights, no torch: the backend's environment and the model data are set up from the
add-on's preferences. The zip is built and validated with Blender's own extension tool
(`bl_pkg/cli/blender_ext.py` shipped in the bpy module), the code behind
`blender --command extension build|validate`.
"""

from __future__ import annotations

import argparse
import importlib.util
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parent
# Never ship weights or data files: model data is installed by the user (licences), and the
# extension must stay small.
WEIGHT_PATTERNS = ("*.pth", "*.pt", "*.tar", "*.onnx", "*.pkl", "*.npz", "*.npy", "*.bin", "*.safetensors",
                   "*.whl")
SKIP = shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo", ".pytest_cache", *WEIGHT_PATTERNS)


def blender_ext_cli() -> Path:
    """Blender's extension CLI from the installed bpy module (not imported: only located)."""
    spec = importlib.util.find_spec("bpy")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("build: the bpy module is needed for Blender's extension validator "
                         "(pip install bpy==5.0.1, or run scripts/setup.sh)")
    for root in spec.submodule_search_locations:
        found = sorted(Path(root).glob("*/scripts/addons_core/bl_pkg/cli/blender_ext.py"))
        if found:
            return found[-1]
    raise SystemExit("build: blender_ext.py not found inside the bpy module")


def stage(dest: Path) -> Path:
    """Copy the extension's files into `dest` (the future zip root)."""
    shutil.copytree(REPO / "addon", dest, ignore=SKIP)
    shutil.copytree(REPO / "backend", dest / "backend", ignore=SKIP)
    shutil.copy2(REPO / "blender_manifest.toml", dest / "blender_manifest.toml")
    return dest


def run_cli(cli: Path, *args: str) -> None:
    proc = subprocess.run([sys.executable, str(cli), *args], capture_output=True, text=True)
    sys.stderr.write(proc.stdout + proc.stderr)
    if proc.returncode != 0:
        raise SystemExit(f"build: blender_ext {args[0]} failed (exit {proc.returncode})")


def build(out_dir: Path) -> Path:
    manifest = tomllib.loads((REPO / "blender_manifest.toml").read_text(encoding="utf-8"))
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{manifest['id']}-{manifest['version']}.zip"
    cli = blender_ext_cli()
    with tempfile.TemporaryDirectory() as tmp:
        src = stage(Path(tmp) / manifest["id"])
        run_cli(cli, "validate", str(src))
        target.unlink(missing_ok=True)
        run_cli(cli, "build", "--source-dir", str(src), "--output-filepath", str(target))
    run_cli(cli, "validate", str(target))
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(REPO / "dist"), help="output folder (default: dist/)")
    args = parser.parse_args(argv)
    print(build(Path(args.out)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
