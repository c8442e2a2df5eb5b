"""ONNX exports of loaded networks, cached per user and keyed by what they were made from.

Two kinds: the ResNet-50 trunk (EXPORT_SETTINGS, `export_trunk`, here) and TCMR's temporal
encoder + regressor (backend.engines.temporal_onnx: TEMPORAL_SETTINGS, `export_temporal`).

Cache folder: $TCMR_CACHE_DIR if set, else platformdirs' user cache folder for "tcmr-mocap"
(`~/.cache/tcmr-mocap` on Linux, `~/Library/Caches/tcmr-mocap` on macOS,
`%LOCALAPPDATA%\\tcmr-mocap\\Cache` on Windows), sub-folder `onnx/`. Nothing leaves the machine.

    <key>.onnx   the graph with the weights inside (~95 MB for ResNet-50, ~330 MB for TCMR, fp32)
    <key>.json   what it was made from: weights hash, torch version, exporter settings, and the
                 sha256 of the .onnx file (a truncated or edited file is caught before loading)

key = sha256 of (sha256 of the module's weights as loaded, torch version, its settings), so new
weights, another torch or other settings give another file: a stale file is never picked. A file
whose meta data is missing, unreadable or does not match is rebuilt (atomically: written under a
temporary name and renamed). The numeric check against torch is the engine's job
(backend.engines.onnx_engine.open_verified), which asks for a rebuild when it fails and, when it
passes, records it in the meta data (`verified`: the file's sha256, the onnxruntime version, the
difference found), so later runs on the same file and runtime do not repeat it.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import time
import warnings
from collections.abc import Callable
from pathlib import Path

EXPORT_SETTINGS = {"exporter": "torchscript", "opset": 17, "dynamic_batch": True, "constant_folding": True,
                   "input": "crops", "output": "features", "layout": 1}
CACHE_ENV = "TCMR_CACHE_DIR"
_CHUNK = 1 << 20


def cache_dir() -> Path:
    """Folder of the cached exports (created on first write)."""
    root = os.environ.get(CACHE_ENV)
    if not root:
        from platformdirs import user_cache_dir

        root = user_cache_dir("tcmr-mocap", appauthor=False)
    return Path(root) / "onnx"


def weights_hash(module) -> str:
    """sha256 over the module's state dict (names, dtypes, shapes and bytes, in name order)."""
    import torch

    digest = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        t = tensor.detach().to("cpu").contiguous()
        digest.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        digest.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return digest.hexdigest()


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def cache_key(weights_sha: str, torch_version: str, settings: dict | None = None) -> str:
    text = json.dumps({"weights": weights_sha, "torch": torch_version,
                       "settings": settings or EXPORT_SETTINGS}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def _problem(onnx_path: Path, meta_path: Path, key: str, settings: dict) -> str | None:
    """Why the cached pair cannot be used, or None when it looks intact."""
    if not onnx_path.is_file():
        return "no cached export"
    try:
        meta = json.loads(meta_path.read_text())
    except (OSError, ValueError) as exc:
        return f"its meta data is unreadable ({type(exc).__name__})"
    if not isinstance(meta, dict) or meta.get("key") != key or meta.get("settings") != settings:
        return "its meta data belongs to other weights or settings"
    if meta.get("onnx_sha256") != file_sha256(onnx_path):
        return "the .onnx file does not match its recorded sha256 (truncated or modified)"
    return None


def export_trunk(trunk, path: Path) -> None:
    """Write the trunk as ONNX to `path` (input crops (B,3,224,224) f32 -> features (B,2048) f32)."""
    import torch

    module = trunk if next(trunk.parameters()).device.type == "cpu" else copy.deepcopy(trunk).cpu()
    module = module.eval()
    example = torch.zeros(1, 3, 224, 224)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice
        torch.onnx.export(module, (example,), str(path), dynamo=False, export_params=True,
                          opset_version=EXPORT_SETTINGS["opset"], do_constant_folding=True,
                          input_names=[EXPORT_SETTINGS["input"]], output_names=[EXPORT_SETTINGS["output"]],
                          dynamic_axes={EXPORT_SETTINGS["input"]: {0: "batch"},
                                        EXPORT_SETTINGS["output"]: {0: "batch"}})


def cached_export(module, log: Callable[[str], None] = lambda _m: None, rebuild: bool = False,
                  folder: Path | None = None, settings: dict | None = None,
                  exporter: Callable | None = None) -> Path:
    """Path of an intact ONNX export of `module` (these exact weights), exporting it when needed.

    settings/exporter: the kind of export (default: the trunk, EXPORT_SETTINGS and export_trunk);
    exporter(module, path) writes the .onnx file."""
    import torch

    settings = settings or EXPORT_SETTINGS
    exporter = exporter or export_trunk
    folder = folder or cache_dir()
    weights_sha = weights_hash(module)
    key = cache_key(weights_sha, torch.__version__, settings)
    onnx_path, meta_path = folder / f"{key}.onnx", folder / f"{key}.json"
    problem = "a rebuild was asked for" if rebuild else _problem(onnx_path, meta_path, key, settings)
    if problem is None:
        log(f"ONNX export: reusing {onnx_path}")
        return onnx_path
    log(f"ONNX export: building {onnx_path} ({problem})")
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f"{key}.{os.getpid()}.tmp.onnx"
    t0 = time.perf_counter()
    try:
        exporter(module, tmp)
        meta = {"key": key, "weights_sha256": weights_sha, "torch_version": torch.__version__,
                "settings": settings, "onnx_sha256": file_sha256(tmp),
                "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        meta_tmp = folder / f"{key}.{os.getpid()}.tmp.json"
        meta_tmp.write_text(json.dumps(meta, indent=1))
        os.replace(tmp, onnx_path)
        os.replace(meta_tmp, meta_path)
    finally:
        for leftover in folder.glob(f"{key}.{os.getpid()}.tmp.*"):
            leftover.unlink(missing_ok=True)
    log(f"ONNX export: written in {time.perf_counter() - t0:.1f} s")
    return onnx_path


def _runtime_version() -> str:
    import onnxruntime

    return onnxruntime.__version__


def verified_record(onnx_path: Path) -> dict | None:
    """The meta data's record of a passed check against torch, when it is for this very file (the
    sha256 that cached_export has just checked against the file) and this onnxruntime; else None."""
    try:
        meta = json.loads(Path(onnx_path).with_suffix(".json").read_text())
        record = meta.get("verified")
        ok = (isinstance(record, dict) and record.get("onnx_sha256") == meta.get("onnx_sha256")
              and record.get("onnxruntime") == _runtime_version())
    except (OSError, ValueError, AttributeError, ImportError):
        return None
    return record if ok else None


def record_verified(onnx_path: Path, difference: float, what: str) -> None:
    """Add the passed check to the meta data (written under a temporary name and renamed)."""
    meta_path = Path(onnx_path).with_suffix(".json")
    try:
        meta = json.loads(meta_path.read_text())
        meta["verified"] = {"onnx_sha256": meta["onnx_sha256"], "onnxruntime": _runtime_version(),
                            "difference": difference, "on": what,
                            "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        tmp = meta_path.with_name(f"{meta_path.stem}.{os.getpid()}.tmp.json")
        tmp.write_text(json.dumps(meta, indent=1))
        os.replace(tmp, meta_path)
    except (OSError, ValueError, KeyError, ImportError):
        pass  # a read-only cache: the check simply runs again next time
