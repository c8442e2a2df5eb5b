"""Device choice (backend.device): auto prefers CUDA, then MPS, then the CPU; an explicit device that
is not there is a coded error. A stand-in torch module decides what is 'available', so every branch
runs on this CPU-only machine; the last test uses the real torch (no MPS on Linux)."""

from __future__ import annotations

import sys
import types

import pytest

from addon.core.backend_cmd import DEVICES as ADDON_DEVICES
from backend.device import DEVICES, resolve_device
from backend.errors import BackendError


def _fake_torch(cuda: bool, mps: bool | None) -> types.ModuleType:
    torch = types.ModuleType("torch")
    torch.__version__ = "0.0-fake"
    torch.device = lambda name: f"device:{name}"
    torch.cuda = types.SimpleNamespace(is_available=lambda: cuda)
    backends = types.SimpleNamespace()
    if mps is not None:  # None: a torch too old to have torch.backends.mps
        backends.mps = types.SimpleNamespace(is_available=lambda: mps)
    torch.backends = backends
    return torch


@pytest.mark.parametrize(("cuda", "mps", "want"), [
    (True, True, "cuda"), (False, True, "mps"), (False, False, "cpu"), (False, None, "cpu")])
def test_auto_prefers_cuda_then_mps_then_cpu(monkeypatch, cuda, mps, want):
    monkeypatch.setitem(sys.modules, "torch", _fake_torch(cuda, mps))
    assert resolve_device("auto") == f"device:{want}"
    assert resolve_device("cpu") == "device:cpu"


@pytest.mark.parametrize(("choice", "code"), [("cuda", "CUDA_UNAVAILABLE"), ("mps", "MPS_UNAVAILABLE")])
def test_missing_explicit_device_is_coded(monkeypatch, choice, code):
    monkeypatch.setitem(sys.modules, "torch", _fake_torch(False, False))
    with pytest.raises(BackendError) as err:
        resolve_device(choice)
    assert err.value.code == code and "--device cpu" in err.value.hint


def test_explicit_mps_when_present(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", _fake_torch(False, True))
    assert resolve_device("mps") == "device:mps"
    with pytest.raises(BackendError) as err:
        resolve_device("tpu")
    assert err.value.code == "BAD_ARGUMENT"


def test_real_torch_on_this_machine_has_no_mps():
    pytest.importorskip("torch")
    import torch

    if torch.backends.mps.is_available():  # a Mac: the other branch is what there is to check
        assert str(resolve_device("mps")) == "mps"
        return
    with pytest.raises(BackendError) as err:
        resolve_device("mps")
    assert err.value.code == "MPS_UNAVAILABLE"


def test_addon_offers_the_backend_devices():
    assert ADDON_DEVICES == DEVICES
