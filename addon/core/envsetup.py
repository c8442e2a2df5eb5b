"""Creates the managed backend environment: a venv with torch and the backend's packages.

Self-contained (stdlib only) so the add-on can run this file as a script with Blender's own
Python: `<blender python> envsetup.py --env DIR --variant cpu|cu126|cu128 [--wheels DIR]`.
It speaks the backend's progress protocol (JSON lines on stdout, pip's output on stderr), so
the add-on shows it with the same polling machinery as a video run. Offline installs use
`--wheels DIR`: pip then reads only that folder (`--no-index --find-links DIR`).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import venv
from pathlib import Path

TORCH_INDEX = {
    "cpu": "https://download.pytorch.org/whl/cpu",
    "cu126": "https://download.pytorch.org/whl/cu126",
    "cu128": "https://download.pytorch.org/whl/cu128",  # RTX 50-series needs cu128
}
# The backend's runtime packages (pyproject.toml [project.dependencies], torch apart).
PACKAGES = ("numpy>=1.26,<2", "smplx>=0.1.28", "opencv-python>=4.8,<4.12", "scipy>=1.10", "platformdirs>=3",
            "onnxruntime>=1.18", "onnx>=1.16,<1.18", "ml_dtypes>=0.4,<0.5")  # CPU backbone engine
VERIFY = "import torch, numpy, cv2, scipy, smplx, platformdirs; print(torch.__version__)"


def emit(event: str, **fields) -> None:
    sys.stdout.write(json.dumps({"event": event, **fields}) + "\n")
    sys.stdout.flush()


def env_python(env: Path) -> Path:
    return env / "Scripts" / "python.exe" if os.name == "nt" else env / "bin" / "python"


def pip_commands(py: Path, variant: str, wheels: str | None, torch_spec: str,
                 packages: tuple[str, ...]) -> list[list[str]]:
    """The pip calls (argument lists): torch from its index (or the wheel folder), then the rest."""
    base = [str(py), "-m", "pip", "install", "--disable-pip-version-check", "--progress-bar", "off"]
    if wheels:
        offline = ["--no-index", "--find-links", str(wheels)]
        cmds = [[*base, *offline, torch_spec]] if torch_spec else []
        return [*cmds, [*base, *offline, *packages]] if packages else cmds
    cmds = [[*base, "--index-url", TORCH_INDEX[variant], torch_spec]] if torch_spec else []
    return [*cmds, [*base, *packages]] if packages else cmds


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--env", required=True, help="folder of the environment to create")
    p.add_argument("--variant", default="cpu", choices=sorted(TORCH_INDEX))
    p.add_argument("--wheels", default=None, help="install offline from this wheel folder")
    p.add_argument("--torch", default="torch", help="torch requirement ('' to skip)")
    p.add_argument("--package", action="append", default=None, help="replace the package list")
    p.add_argument("--verify", default=VERIFY, help="python code that must run in the new env")
    args = p.parse_args(argv)
    env = Path(args.env)
    packages = tuple(args.package) if args.package is not None else PACKAGES
    emit("hello", protocol=1, backend_version="envsetup", device="none", command="envsetup")
    step = 0
    try:
        if args.wheels and not Path(args.wheels).is_dir():
            emit("error", code="INPUT_NOT_FOUND", message=f"wheel folder {args.wheels} does not exist",
                 hint="Choose the folder that holds the downloaded .whl files, or clear it to install "
                      "online.")
            return 2
        cmds = pip_commands(env_python(env), args.variant, args.wheels, args.torch, packages)
        total = len(cmds) + 2
        emit("stage", stage="venv", message=f"Creating environment in {env}")
        if not env_python(env).exists():
            venv.EnvBuilder(with_pip=True, clear=False).create(env)
        step += 1
        emit("progress", stage="install", done=step, total=total)
        emit("stage", stage="install", message="Installing packages (torch is large: this takes a while)")
        for cmd in cmds:
            sys.stderr.write("$ " + " ".join(cmd) + "\n")
            sys.stderr.flush()
            rc = subprocess.call(cmd, stdout=sys.stderr, stderr=sys.stderr)
            if rc != 0:
                hint = ("Check that the wheel folder holds wheels for this Python and platform."
                        if args.wheels else
                        "Check the internet connection, or install offline from a wheel folder.")
                emit("error", code="INSTALL_FAILED", message=f"pip failed (exit code {rc}); see the log",
                     hint=hint)
                return 2
            step += 1
            emit("progress", stage="install", done=step, total=total)
        emit("stage", stage="verify", message="Checking the new environment")
        proc = subprocess.run([str(env_python(env)), "-c", args.verify], capture_output=True, text=True)
        sys.stderr.write(proc.stdout + proc.stderr)
        if proc.returncode != 0:
            last = (proc.stderr.strip().splitlines() or ["?"])[-1]
            emit("error", code="INSTALL_FAILED",
                 message=f"the new environment cannot import its packages: {last}",
                 hint="Recreate the environment; on Windows install the Microsoft VC++ runtime.")
            return 2
        step += 1
        emit("progress", stage="install", done=step, total=total)
        emit("result", path=str(env_python(env)), torch=proc.stdout.strip())
        return 0
    except (OSError, subprocess.SubprocessError) as exc:
        emit("error", code="INSTALL_FAILED", message=f"could not create the environment: {exc}",
             hint="Choose another environment folder (short path, writable), then try again.")
        return 2


if __name__ == "__main__":
    sys.exit(main())
