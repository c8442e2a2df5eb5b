"""VideoPose3D's temporal convolution model (Pavllo et al., CVPR 2019), inference only.

Same structure and parameter names as the official `TemporalModel`, so the official state dict
loads unchanged:

* `expand_conv`: Conv1d(J_in*F, C, w0, no bias) -> `expand_bn` -> ReLU;
* for each further filter width w_i (dilation d_i = w0*w1*...*w_{i-1}): a block
  `layers_conv[2i]` Conv1d(C, C, w_i, dilation d_i, no bias) -> `layers_bn[2i]` -> ReLU ->
  `layers_conv[2i+1]` Conv1d(C, C, 1, no bias) -> `layers_bn[2i+1]` -> ReLU, added to the block
  input sliced by pad_i = (w_i - 1) * d_i / 2 frames on each side (the residual);
* `shrink`: Conv1d(C, J_out*3, 1, with bias).

Valid (unpadded) convolutions: T + 2*pad input frames give T output frames, where
pad = (receptive_field - 1) / 2. Dropout is the identity at inference and has no parameters,
so it is left out. Always used in eval mode (BatchNorm with its running statistics).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class LiftConfig:
    """Architecture of one VideoPose3D model (the released COCO model: 17, 2, 17, (3,)*5, 1024)."""

    joints_in: int = 17
    features_in: int = 2
    joints_out: int = 17
    filter_widths: tuple[int, ...] = (3, 3, 3, 3, 3)
    channels: int = 1024

    def pads(self) -> list[int]:
        """Frames each layer removes on each side: w0//2 for the first, (w_i-1)*d_i//2 after."""
        pads, dilation = [self.filter_widths[0] // 2], self.filter_widths[0]
        for width in self.filter_widths[1:]:
            pads.append((width - 1) * dilation // 2)
            dilation *= width
        return pads

    def trajectory(self) -> LiftConfig:
        """The trajectory model of the same checkpoint: same input and layers, one output joint."""
        return LiftConfig(self.joints_in, self.features_in, 1, self.filter_widths, self.channels)

    @property
    def receptive_field(self) -> int:
        """Input frames for one output frame (243 for five widths of 3)."""
        return 1 + 2 * sum(self.pads())


DEFAULT_CONFIG = LiftConfig()


class TemporalModel(nn.Module):
    """(N, T + 2*pad, J_in, F) normalised 2D keypoints -> (N, T, J_out, 3) metres."""

    def __init__(self, config: LiftConfig = DEFAULT_CONFIG) -> None:
        super().__init__()
        if any(w % 2 == 0 or w < 1 for w in config.filter_widths):
            raise ValueError(f"filter widths must be odd, got {config.filter_widths}")
        self.config = config
        c = config.channels
        self.expand_conv = nn.Conv1d(config.joints_in * config.features_in, c, config.filter_widths[0],
                                     bias=False)
        self.expand_bn = nn.BatchNorm1d(c, momentum=0.1)
        convs, bns, dilation = [], [], config.filter_widths[0]
        for width in config.filter_widths[1:]:
            convs += [nn.Conv1d(c, c, width, dilation=dilation, bias=False), nn.Conv1d(c, c, 1, bias=False)]
            bns += [nn.BatchNorm1d(c, momentum=0.1), nn.BatchNorm1d(c, momentum=0.1)]
            dilation *= width
        self.layers_conv = nn.ModuleList(convs)
        self.layers_bn = nn.ModuleList(bns)
        self.shrink = nn.Conv1d(c, config.joints_out * 3, 1)
        self.pads = config.pads()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, frames, joints, features = x.shape
        if joints != self.config.joints_in or features != self.config.features_in:
            raise ValueError(f"expected (N, T, {self.config.joints_in}, {self.config.features_in}), "
                             f"got {tuple(x.shape)}")
        x = x.reshape(n, frames, joints * features).permute(0, 2, 1)
        x = torch.relu(self.expand_bn(self.expand_conv(x)))
        for i, pad in enumerate(self.pads[1:]):
            residual = x[:, :, pad:x.shape[2] - pad]
            x = torch.relu(self.layers_bn[2 * i](self.layers_conv[2 * i](x)))
            x = residual + torch.relu(self.layers_bn[2 * i + 1](self.layers_conv[2 * i + 1](x)))
        x = self.shrink(x).permute(0, 2, 1)
        return x.reshape(n, -1, self.config.joints_out, 3)
