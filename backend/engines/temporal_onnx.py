"""ONNX Runtime engine for TCMR's temporal stage: encoder + regressor on windows of one track.

On the CPU the temporal stage is matrix products of (windows x 1024) by (1024 x 3072) and
(windows x 2048) by (2048 x 3072), which ONNX Runtime's own GEMM runs faster than torch's:
the whole stage ~1.24x on a 312-frame track on the machine measured (docs/performance.md).
The graph is `TCMR.forward_local` traced by the TorchScript exporter (the 16 steps unrolled;
batch B and frame count S dynamic):

    frames (S,2048) float32, idx (B,16) int64 indices into frames
      -> rotmat (B,24,3,3), betas (B,10), cam (B,3), scores (B,3) [, branch_rotmat (B,3,24,3,3)]

It is cached like the trunk (backend.engines.export_cache, TEMPORAL_SETTINGS) and, before first
use, compared with torch on VERIFY_WINDOWS fixed windows (static and real ones): every output's
max |onnx - torch| / max |torch| must be <= VERIFY_BOUND. A cached file that fails is rebuilt
once; an export that still fails raises (the caller falls back to torch).
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

from backend.engines.export_cache import cached_export
from backend.engines.onnx_engine import (
    import_onnxruntime,
    open_verified,
    relative_error,
    run_session,
    session_options,
)

OUTPUTS = ("rotmat", "betas", "cam", "scores")
BRANCH_OUTPUT = "branch_rotmat"
TEMPORAL_SETTINGS = {"exporter": "torchscript", "opset": 17, "graph": "tcmr.forward_local", "version": 1,
                     "inputs": ["frames", "idx"], "outputs": list(OUTPUTS), "constant_folding": True}
VERIFY_FRAMES = 40
VERIFY_ROWS = (4, 16)  # rows of window_indices(VERIFY_FRAMES) checked: 4 static windows, then 8 real ones
VERIFY_WINDOWS = VERIFY_ROWS[1] - VERIFY_ROWS[0]


def settings_for(tcmr) -> dict:
    """The export settings of this TCMR: with or without the per-branch heads."""
    outputs = list(OUTPUTS) + ([BRANCH_OUTPUT] if tcmr.branch_heads else [])
    return {**TEMPORAL_SETTINGS, "outputs": outputs}


def _graph_module(tcmr):
    import torch

    outputs = settings_for(tcmr)["outputs"]

    class Local(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.tcmr = tcmr

        def forward(self, frames, idx):
            out = self.tcmr.forward_local(frames, idx)
            return tuple(out[k] for k in outputs)

    return Local().eval(), outputs


def export_temporal(tcmr, path: Path) -> None:
    """Write TCMR.forward_local as ONNX to `path` (see the module docstring for the signature)."""
    import torch

    from backend.windowing import window_indices

    module = tcmr if next(tcmr.parameters()).device.type == "cpu" else copy.deepcopy(tcmr).cpu()
    graph, outputs = _graph_module(module.eval())
    idx = torch.from_numpy(window_indices(VERIFY_FRAMES))[8:12]  # real windows over frames 0..18
    frames = torch.zeros(int(idx.max()) + 1, 2048)
    dynamic = {"frames": {0: "frames"}, "idx": {0: "windows"}, **{k: {0: "windows"} for k in outputs}}
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation and trace notices
        torch.onnx.export(graph, (frames, idx), str(path), dynamo=False, export_params=True,
                          opset_version=TEMPORAL_SETTINGS["opset"], do_constant_folding=True,
                          input_names=list(TEMPORAL_SETTINGS["inputs"]), output_names=outputs,
                          dynamic_axes=dynamic)


class OnnxTemporalEngine:
    """(frames (F,2048), idx (B,16) into frames) torch CPU tensors -> dict of torch tensors (B, ...),
    as TCMR.forward_indexed."""

    name = "onnxruntime"

    def __init__(self, path: Path, outputs: list[str], threads: int | None = None):
        ort = import_onnxruntime()
        if ort is None:
            raise ImportError("onnxruntime is not installed")
        self.path = Path(path)
        self.outputs = list(outputs)
        opts = session_options(ort, threads)
        # Pre-packing the ~330 MB of GEMM weights costs ~1 s at every start and doubles their memory,
        # for a few percent of speed on a clip's windows: not worth it here.
        opts.add_session_config_entry("session.disable_prepacking", "1")
        self.session = ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])

    def __call__(self, frames, idx) -> dict:
        import torch

        from backend.models.temporal import frames_read

        frames, idx = frames_read(frames, idx)
        feed = {"frames": np.ascontiguousarray(frames.cpu().numpy(), dtype=np.float32),
                "idx": np.ascontiguousarray(idx.cpu().numpy(), dtype=np.int64)}
        got = run_session(self.session, self.outputs, feed)
        return {k: torch.from_numpy(v) for k, v in zip(self.outputs, got)}

    def describe(self) -> str:
        return f"onnxruntime fp32 {self.path.name}"


def verification_inputs(seed: int = 0):
    """Fixed features (VERIFY_FRAMES,2048) >= 0 (as after the trunk's ReLU and pooling) and the
    VERIFY_ROWS rows of their window indices (static and real windows)."""
    import torch

    from backend.windowing import window_indices

    rng = np.random.default_rng(seed)
    frames = np.abs(rng.normal(0.0, 1.0, size=(VERIFY_FRAMES, 2048))).astype(np.float32)
    idx = window_indices(VERIFY_FRAMES)[VERIFY_ROWS[0]:VERIFY_ROWS[1]]
    return torch.from_numpy(frames), torch.from_numpy(idx)


def worst_difference(engine: OnnxTemporalEngine, tcmr) -> tuple[float, str]:
    """(largest relative difference over the outputs, its name) of engine against torch."""
    import torch

    frames, idx = verification_inputs()
    with torch.inference_mode():
        ref = tcmr.forward_indexed(frames, idx)
    got = engine(frames, idx)
    errors = {k: relative_error(got[k].numpy(), ref[k].numpy()) for k in engine.outputs}
    name = max(errors, key=errors.get)
    return errors[name], name


def open_temporal_engine(tcmr, log: Callable[[str], None] = lambda _m: None,
                         folder: Path | None = None) -> OnnxTemporalEngine:
    """Export/reuse, open and verify -> an engine whose outputs match torch within VERIFY_BOUND."""
    settings = settings_for(tcmr)

    def difference(engine):
        err, name = worst_difference(engine, tcmr)
        return err, f" in {name}"

    return open_verified(lambda rebuild: cached_export(tcmr, log, rebuild=rebuild, folder=folder,
                                                       settings=settings, exporter=export_temporal),
                         lambda path: OnnxTemporalEngine(path, settings["outputs"]), difference,
                         f"{VERIFY_WINDOWS} windows of the temporal stage", log)
