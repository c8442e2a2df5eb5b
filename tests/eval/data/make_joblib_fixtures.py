"""Writes the joblib fixtures with REAL joblib (not needed by the tests; kept to show provenance).

    pip download joblib==1.4.2 joblib==0.14.1 --no-deps -d /tmp/jl   # unzip each wheel
    PYTHONPATH=/tmp/jl/new:. python tests/eval/data/make_joblib_fixtures.py new
    PYTHONPATH=/tmp/jl/old:. python tests/eval/data/make_joblib_fixtures.py old
"""

import sys
from pathlib import Path

import joblib

from tests.eval.joblib_fixture import fixture_dict

HERE = Path(__file__).parent
tag = sys.argv[1]
version = joblib.__version__.replace(".", "")
data = fixture_dict()
if tag == "new":
    joblib.dump(data, HERE / f"joblib{version}_p4.pt")  # default protocol (4), aligned arrays
    joblib.dump(data, HERE / f"joblib{version}_p2.pt", protocol=2)
    joblib.dump(data, HERE / f"joblib{version}_zlib.pt", compress=3)
    joblib.dump(data, HERE / f"joblib{version}_gzip.pt", compress=("gzip", 3))
    joblib.dump(data, HERE / f"joblib{version}_bz2.pt", compress=("bz2", 3))
    joblib.dump(data, HERE / f"joblib{version}_xz.pt", compress=("xz", 3))
else:
    joblib.dump(data, HERE / f"joblib{version}_p3.pt", protocol=3)  # Python 3.7 default: TCMR's era
    joblib.dump(data, HERE / f"joblib{version}_p4.pt")  # no alignment bytes before joblib 1.2
