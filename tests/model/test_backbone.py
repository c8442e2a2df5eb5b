"""The SPIN ResNet-50 trunk against a float64 functional re-implementation."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

LAYERS = ((3, 1), (4, 2), (6, 2), (3, 2))  # (blocks, stride of block 0's 3x3 conv)


def _bn(x, s, p):
    w, b, mean, var = (s[p + k] for k in ("weight", "bias", "running_mean", "running_var"))
    scale = w / torch.sqrt(var + 1e-5)
    return (x - mean[:, None, None]) * scale[:, None, None] + b[:, None, None]


def reference_features(state, x):
    """(B,3,224,224) float64 -> (B,2048): conv1/bn1/relu/maxpool, v1.5 bottlenecks, 7x7 mean."""
    s = {k: v.double() for k, v in state.items() if v.is_floating_point()}
    x = F.relu(_bn(F.conv2d(x, s["conv1.weight"], stride=2, padding=3), s, "bn1."))
    x = F.max_pool2d(x, 3, 2, 1)
    for layer, (blocks, stride) in enumerate(LAYERS, start=1):
        for block in range(blocks):
            p = f"layer{layer}.{block}."
            st = stride if block == 0 else 1
            out = F.relu(_bn(F.conv2d(x, s[p + "conv1.weight"]), s, p + "bn1."))
            out = F.relu(_bn(F.conv2d(out, s[p + "conv2.weight"], stride=st, padding=1), s, p + "bn2."))
            out = _bn(F.conv2d(out, s[p + "conv3.weight"]), s, p + "bn3.")
            if block == 0:
                x = _bn(F.conv2d(x, s[p + "downsample.0.weight"], stride=st), s, p + "downsample.1.")
            x = F.relu(out + x)
    assert x.shape[-2:] == (7, 7)
    return x.mean(dim=(2, 3))


@pytest.fixture(scope="module")
def crops():
    g = torch.Generator().manual_seed(0)
    return torch.randn(2, 3, 224, 224, generator=g)


def test_backbone_matches_float64_reference(models, model_data_dir, crops):
    from backend.models.inference import extract_features

    spin = torch.load(model_data_dir / "spin_model_checkpoint.pth.tar", weights_only=False)["model"]
    ref = reference_features(spin, crops.double()).numpy()
    ours = extract_features(models, crops)
    assert ours.shape == (2, 2048) and ours.dtype == torch.float32
    err = np.abs(ours.numpy() - ref).max()
    assert err < 1e-4 * max(1.0, np.abs(ref).max()), err
    assert np.abs(ref).max() > 1e-2  # non-trivial activations
    # the two crops give different features (no batch mixing / BN in train mode)
    single = extract_features(models, crops[1:])
    np.testing.assert_allclose(single.numpy()[0], ours.numpy()[1], atol=1e-5)


def test_bf16_autocast_and_channels_last_stay_close(models, crops):
    from dataclasses import replace

    from backend.models.inference import extract_features

    ref = extract_features(models, crops).numpy()
    fast = replace(models, config=replace(models.config, backbone_precision="bf16", channels_last=True))
    out = extract_features(fast, crops)
    assert out.dtype == torch.float32
    rel = np.abs(out.numpy() - ref).max() / np.abs(ref).max()
    assert 0 < rel < 0.1, rel
