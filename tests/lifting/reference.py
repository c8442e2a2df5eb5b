"""Float64 numpy reference of VideoPose3D's in-the-wild inference, written from the equations
(docs/lifting.md), sharing no code with backend.lifting beyond the skeleton index tables."""

from __future__ import annotations

import numpy as np

COCO_L, COCO_R = [1, 3, 5, 7, 9, 11, 13, 15], [2, 4, 6, 8, 10, 12, 14, 16]
H36M_L, H36M_R = [4, 5, 6, 11, 12, 13], [1, 2, 3, 14, 15, 16]
EPS = 1e-5  # torch BatchNorm1d default


def conv(x: np.ndarray, w: np.ndarray, dilation: int = 1, bias=None) -> np.ndarray:
    """Valid dilated 1D convolution: x (T, Cin), w (Cout, Cin, K) -> (T - (K-1)*d, Cout)."""
    k = w.shape[2]
    out_len = x.shape[0] - (k - 1) * dilation
    y = sum(x[i * dilation:i * dilation + out_len] @ w[:, :, i].T for i in range(k))
    return y + (0 if bias is None else bias)


def bn(x: np.ndarray, s: dict, prefix: str) -> np.ndarray:
    g, b = s[prefix + ".weight"], s[prefix + ".bias"]
    m, v = s[prefix + ".running_mean"], s[prefix + ".running_var"]
    return (x - m) / np.sqrt(v + EPS) * g + b


def relu(x):
    return np.maximum(x, 0.0)


def network(x: np.ndarray, s: dict, widths: tuple[int, ...]) -> np.ndarray:
    """x (T', 17*2) -> (T' - 2*pad, J*3) with float64 state dict `s` (numpy arrays)."""
    h = relu(bn(conv(x, s["expand_conv.weight"]), s, "expand_bn"))
    dilation = widths[0]
    for i, width in enumerate(widths[1:]):
        pad = (width - 1) * dilation // 2
        res = h[pad:h.shape[0] - pad]
        h = relu(bn(conv(h, s[f"layers_conv.{2 * i}.weight"], dilation), s, f"layers_bn.{2 * i}"))
        h = res + relu(bn(conv(h, s[f"layers_conv.{2 * i + 1}.weight"]), s, f"layers_bn.{2 * i + 1}"))
        dilation *= width
    return conv(h, s["shrink.weight"], bias=s["shrink.bias"])


def reference_lift(kp_px, w, h, pos_state, traj_state, widths, flip=True):
    """(T,17,2) px -> (pose (T,17,3), traj (T,3) or None), float64."""
    frames = kp_px.shape[0]
    norm = np.empty_like(kp_px, dtype=np.float64)
    norm[..., 0] = kp_px[..., 0] * 2.0 / w - 1.0
    norm[..., 1] = kp_px[..., 1] * 2.0 / w - h / w
    rf = 1
    for i, width in enumerate(widths):
        rf += (width - 1) * int(np.prod(widths[:i]))
    pad = (rf - 1) // 2
    padded = np.concatenate([np.repeat(norm[:1], pad, 0), norm, np.repeat(norm[-1:], pad, 0)])
    mirrored = padded.copy()
    mirrored[..., 0] = -mirrored[..., 0]
    mirrored[:, COCO_L + COCO_R] = mirrored[:, COCO_R + COCO_L]

    def run(state, joints, swap):
        out = network(padded.reshape(len(padded), -1), state, widths).reshape(frames, joints, 3)
        if not flip:
            return out
        m = network(mirrored.reshape(len(padded), -1), state, widths).reshape(frames, joints, 3)
        m[..., 0] = -m[..., 0]
        if swap:
            m[:, H36M_L + H36M_R] = m[:, H36M_R + H36M_L]
        return 0.5 * (out + m)

    pose = run(pos_state, 17, True)
    traj = None if traj_state is None else run(traj_state, 1, False)[:, 0]
    return pose, traj
