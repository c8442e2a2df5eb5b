"""SPIN/HMR ResNet-50 trunk: (B,3,224,224) ImageNet-normalised crops -> (B,2048) features.

Exactly HMR.feature_extractor (docs/tcmr_facts.md, SPIN checkpoint): conv1 7x7/2, bn1, relu,
maxpool(3,2,1), layer1..layer4 of torchvision-v1.5 Bottlenecks (stride on the 3x3 conv,
downsample = 1x1 conv + BN on block 0), AvgPool2d(7, stride 1), flatten. BatchNorm runs in eval
mode (running statistics, eps 1e-5). Parameter names match SPIN's checkpoint keys.
"""

from __future__ import annotations

import torch
from torch import nn

FEATURE_DIM = 2048
LAYERS = ((3, 64, 1), (4, 128, 2), (6, 256, 2), (3, 512, 2))  # (blocks, width, stride)


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, in_c: int, width: int, stride: int, downsample: bool) -> None:
        super().__init__()
        out_c = width * self.expansion
        self.conv1 = nn.Conv2d(in_c, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, out_c, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out_c)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = (nn.Sequential(nn.Conv2d(in_c, out_c, 1, stride=stride, bias=False),
                                         nn.BatchNorm2d(out_c)) if downsample else None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


class ResNet50Trunk(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        in_c = 64
        for i, (blocks, width, stride) in enumerate(LAYERS, start=1):
            layer = []
            for b in range(blocks):
                layer.append(Bottleneck(in_c, width, stride if b == 0 else 1, downsample=b == 0))
                in_c = width * Bottleneck.expansion
            setattr(self, f"layer{i}", nn.Sequential(*layer))
        self.avgpool = nn.AvgPool2d(7, stride=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B,3,224,224) -> (B,2048)."""
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.avgpool(x).flatten(1)
