"""Cost of refusing hostile files vs reading a genuine one, each in its own process.

Not a test: prints wall time, peak memory (RSS) and the error code for every hostile file of
tests/hostile_files.py (billion laughs, sparse indptr, self-referencing chumpy, gzip/bz2 database
bombs, a .npy header claiming terabytes), next to the same reader on a synthetic official-format
SMPL pkl measured in the same run (the baseline: what an honest file costs).

    python benchmarks/bench_hostile_files.py
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests import hostile_files  # noqa: E402
from tests.foundation.test_hostile_files import _PROBE  # noqa: E402


def _probe(kind: str, path: Path) -> dict:
    proc = subprocess.run([sys.executable, "-c", _PROBE, kind, str(path)], cwd=REPO, capture_output=True,
                          text=True, timeout=600)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> int:
    from backend.synthetic import write_smpl_pkl

    cases = [("billion_laughs.pkl", hostile_files.billion_laughs, "smpl"),
             ("sparse_indptr.pkl", hostile_files.sparse_bomb, "smpl"),
             ("self_referencing_chumpy.pkl", hostile_files.self_referencing_chumpy, "smpl"),
             ("gzip_4.4GB_db.pt", hostile_files.gzip_db_bomb, "db"),
             ("bz2_200000_frames_db.pt", hostile_files.bz2_db_of_200000_frames, "db"),
             ("terabyte_header.npy", hostile_files.npy_claiming_terabytes, "npy")]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        genuine = write_smpl_pkl(folder / "SMPL_NEUTRAL.pkl")
        base = _probe("smpl", genuine)
        print(f"baseline: genuine synthetic SMPL pkl ({genuine.stat().st_size / 1e6:.1f} MB): "
              f"{base['s']:.2f} s, peak {base['peak_mb']:.0f} MB, {base['code']}")
        for name, build, kind in cases:
            path = folder / name
            path.write_bytes(build())
            r = _probe(kind, path)
            print(f"{name:30s} {path.stat().st_size:>9d} B  {r['code']:13s} {r['s']:6.2f} s "
                  f"({r['s'] / base['s']:.2f}x baseline)  peak {r['peak_mb']:6.0f} MB "
                  f"({r['peak_mb'] / base['peak_mb']:.2f}x baseline)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
