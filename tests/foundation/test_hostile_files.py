"""Tiny hostile files that once took the machine down (issue: pickle and archive bombs): each ends
in one coded error, in its own process, well within seconds and 2 GB of peak memory. The files
are written by the test (tests/hostile_files.py), none is stored."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests import hostile_files

REPO = Path(__file__).resolve().parents[2]
# Runs one reader on one file and prints the error code and the process's peak memory.
_PROBE = r"""
import json, resource, sys, time
kind, path = sys.argv[1], sys.argv[2]
t0 = time.monotonic()
from backend.errors import BackendError
try:
    if kind == "smpl":
        from backend.smpl_file import load_smpl
        load_smpl(path)
    elif kind == "addon_smpl":
        from addon.core.smpl_model import SmplModelError, load_smpl_model
        try:
            load_smpl_model(path)
        except SmplModelError as exc:
            raise BackendError("DATA_INVALID", exc.message, exc.hint)
    elif kind == "db":
        from backend.evaldb import read_db
        read_db(path)
    elif kind == "npy":
        from pathlib import Path
        from backend.models.loading import load_regressor_npy
        load_regressor_npy(Path(path), 17)
    code, message = "OK", ""
except BackendError as exc:
    code, message = str(exc.code), exc.message + " | " + exc.hint
try:  # VmHWM: this process image's own peak (ru_maxrss would include the parent's from before exec)
    with open("/proc/self/status") as status:
        peak_mb = next(int(l.split()[1]) for l in status if l.startswith("VmHWM:")) / 1024
except OSError:
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"code": code, "message": message, "peak_mb": peak_mb, "s": time.monotonic() - t0}))
"""


def _probe(kind: str, path: Path) -> dict:
    proc = subprocess.run([sys.executable, "-c", _PROBE, kind, str(path)], cwd=REPO, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


CASES = {
    "billion_laughs.pkl": (hostile_files.billion_laughs, ("smpl", "addon_smpl"), "DATA_INVALID", 400),
    "sparse_indptr.pkl": (hostile_files.sparse_bomb, ("smpl", "addon_smpl"), "DATA_INVALID", 2000),
    "self_referencing_chumpy.pkl": (hostile_files.self_referencing_chumpy, ("smpl", "addon_smpl"),
                                    "DATA_INVALID", 400),
    "gzip_4.4GB_db.pt": (hostile_files.gzip_db_bomb, ("db",), "DB_INVALID", 6_000_000),
    "bz2_200000_frames_db.pt": (hostile_files.bz2_db_of_200000_frames, ("db",), "DB_INVALID", 64_000),
    "terabyte_header.npy": (hostile_files.npy_claiming_terabytes, ("npy",), "DATA_INVALID", 200),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_tiny_hostile_file_ends_in_one_coded_error_quickly_and_small(tmp_path, name):
    build, kinds, code, max_size = CASES[name]
    path = tmp_path / name
    path.write_bytes(build())
    assert path.stat().st_size <= max_size  # tiny on disk ...
    for kind in kinds:
        result = _probe(kind, path)
        assert result["code"] == code, result
        assert name in result["message"] and "Hint" not in result["message"]
        assert result["peak_mb"] < 2048, result  # ... and never near the gigabytes it claims
        assert result["s"] < 60, result  # a hang guard, not a speed measurement
