"""ONNX export of the loaded ResNet-50 trunk, cached per user and keyed by what it was made from.

Cache folder: $TCMR_CACHE_DIR if set, else platformdirs' user cache folder for "tcmr-mocap"
(`~/.cache/tcmr-mocap` on Linux, `~/Library/Caches/tcmr-mocap` on macOS,
`%LOCALAPPDATA%\\tcmr-mocap\\Cache` on Windows), sub-folder `onnx/`. Nothing leaves the machine.

    <key>.onnx   the graph with the weights inside (~95 MB for ResNet-50, fp32)
    <key>.json   what it was made from: weights hash, torch version, exporter settings, and the
                 sha256 of the .onnx file (a truncated or edited file is caught before loading)

key = sha256 of (sha256 of the trunk's weights as loaded, torch version, EXPORT_SETTINGS), so new
weights, another torch or other settings give another file: a stale file is never picked. A file
whose meta data is missing, unreadable or does not match is rebuilt (atomically: written under a
temporary name and renamed). The numeric check against torch is the engine's job
(backend.engines.onnx_engine), which asks for a rebuild when it fails.
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


def cache_key(weights_sha: str, torch_version: str) -> str:
    text = json.dumps({"weights": weights_sha, "torch": torch_version, "settings": EXPORT_SETTINGS},
                      sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def _problem(onnx_path: Path, meta_path: Path, key: str) -> str | None:
    """Why the cached pair cannot be used, or None when it looks intact."""
    if not onnx_path.is_file():
        return "no cached export"
    try:
        meta = json.loads(meta_path.read_text())
    except (OSError, ValueError) as exc:
        return f"its meta data is unreadable ({type(exc).__name__})"
    if not isinstance(meta, dict) or meta.get("key") != key or meta.get("settings") != EXPORT_SETTINGS:
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


def cached_export(trunk, log: Callable[[str], None] = lambda _m: None, rebuild: bool = False,
                  folder: Path | None = None) -> Path:
    """Path of an intact ONNX export of `trunk` (these exact weights), exporting it when needed."""
    import torch

    folder = folder or cache_dir()
    weights_sha = weights_hash(trunk)
    key = cache_key(weights_sha, torch.__version__)
    onnx_path, meta_path = folder / f"{key}.onnx", folder / f"{key}.json"
    problem = "a rebuild was asked for" if rebuild else _problem(onnx_path, meta_path, key)
    if problem is None:
        log(f"ONNX export: reusing {onnx_path}")
        return onnx_path
    log(f"ONNX export: building {onnx_path} ({problem})")
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f"{key}.{os.getpid()}.tmp.onnx"
    t0 = time.perf_counter()
    try:
        export_trunk(trunk, tmp)
        meta = {"key": key, "weights_sha256": weights_sha, "torch_version": torch.__version__,
                "settings": EXPORT_SETTINGS, "onnx_sha256": file_sha256(tmp),
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
