"""Without Ray installed, --ray is a coded error with the install hint (no models loaded)."""

from __future__ import annotations

import sys

import pytest

from backend.errors import BackendError, Code


def test_ray_missing_is_coded(monkeypatch):
    from backend.batch import ray_exec

    for key in ray_exec.LOCAL_ENV:  # `--ray local` sets them before importing Ray: restored after the test
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now raises ImportError
    with pytest.raises(BackendError) as info:
        ray_exec.RayExecutor(None, "local", 2)
    assert info.value.code == Code.RAY_UNAVAILABLE and "pip install" in info.value.hint
