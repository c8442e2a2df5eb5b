"""The dict stored in tests/eval/data/joblib_*.pt (written by real joblib, see make_joblib_fixtures.py)."""

from __future__ import annotations

import numpy as np


def fixture_dict() -> dict[str, np.ndarray]:
    """Every array kind the official databases (and joblib's writer) can produce."""
    return {
        "vid_name": np.array(["courtyard_basketball_00_0"] * 3 + ["downtown_walking_00_1"] * 2),  # <U25
        "frame_id": np.arange(5, dtype=np.int64),
        "features": (np.arange(5 * 8, dtype=np.float32).reshape(5, 8) / 7.0),
        "joints3D": np.asfortranarray(np.linspace(-1.0, 1.0, 5 * 14 * 3).reshape(5, 14, 3)),  # F order
        "img_name": np.array(["a/image_00000.jpg", "a/image_00001.jpg", "b/x.jpg", "b/y.jpg", "b/z.jpg"],
                             dtype=object),  # object array: a nested pickle inside joblib's stream
        "valid": np.array([1, 0, 1, 1, 1], dtype=np.uint8),
        "big_endian": np.arange(4, dtype=">f8"),
        "scalar": np.array(3.5),
        "empty": np.zeros((0, 3), dtype=np.float32),
        "bytes_names": np.array([b"abc", b"de"]),
    }
