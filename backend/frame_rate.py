"""TCMR's temporal context at any frame rate (pure Python).

TCMR was trained on 16-frame windows of 30 fps video (~0.5 s: 8 frames before, 7 after). At 50-60
fps 16 consecutive frames cover only a quarter of a second, so the network sees half the motion
it expects. The official demo resamples every video to 29.97 fps instead (dropping or duplicating
frames), which also changes the output's frame rate. Here every source frame keeps its own output
row, predicted from its own window whose 16 frames are `stride` source frames apart, the stride
chosen so the window's frames come at close to 30 fps (60 fps: every second frame, a window of
t-16, t-14, ..., t+14). At 24-40 fps the stride is 1: exactly the official windows.
"""

from __future__ import annotations

from backend.windowing import SEQLEN

MODEL_FPS = 30.0  # the frame rate TCMR's windows were trained at
MAX_STRIDE = 8


def window_stride(fps: float, native: bool = False) -> int:
    """Source frames between a window's frames (>= 1): the stride whose rate fps/stride is nearest
    to 30 fps (ties: the smaller stride). native=True, or an unknown rate: 1 (16 consecutive frames)."""
    if native or not fps > 0:
        return 1
    return min(range(1, MAX_STRIDE + 1), key=lambda s: (abs(fps / s - MODEL_FPS), s))


def window_span_s(fps: float, stride: int) -> float:
    """Seconds from a window's first frame to its last."""
    return (SEQLEN - 1) * stride / fps if fps > 0 else float("nan")
