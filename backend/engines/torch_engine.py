"""The torch feature engine: the reference path (backend.models.inference.extract_features).

With the models' own config it is exactly today's path (same calls, same numbers). Given another
precision or memory format it runs on a shallow copy of `models` whose config says so, with a
channels_last copy of the trunk when asked (the caller's trunk is left as it is).
"""

from __future__ import annotations

import copy
import dataclasses

import numpy as np


class TorchFeatureEngine:
    """crops (B,3,224,224) float32 ImageNet-normalised -> features (B,2048) float32 (numpy)."""

    name = "torch"

    def __init__(self, models, precision: str | None = None, channels_last: bool | None = None) -> None:
        import torch

        cfg = models.config
        precision = precision or cfg.backbone_precision
        channels_last = cfg.channels_last if channels_last is None else channels_last
        if precision != cfg.backbone_precision or channels_last != cfg.channels_last:
            trunk = models.backbone
            if channels_last and not cfg.channels_last and trunk is not None:
                trunk = copy.deepcopy(trunk).to(memory_format=torch.channels_last)
            models = dataclasses.replace(models, backbone=trunk, config=dataclasses.replace(
                cfg, backbone_precision=precision, channels_last=channels_last))
        self.models = models
        self.precision = precision
        self.channels_last = channels_last

    def __call__(self, crops: np.ndarray, batching=None) -> np.ndarray:
        """batching: backend.models.inference.Batching, the model API's one out-of-memory layer
        (halves the batch and keeps it smaller); None: one call of the whole batch."""
        import torch

        from backend.models.inference import extract_features

        return extract_features(self.models, torch.from_numpy(crops), batching).cpu().numpy()

    def describe(self) -> str:
        layout = "channels_last" if self.channels_last else "contiguous"
        return f"torch {self.precision} {layout} on {self.models.device}"
