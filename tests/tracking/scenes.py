"""Synthetic scenes for the tracker: drawn people with known paths, their frames and detections.

Each person is a textured, coloured upright rectangle (a torso-and-legs stand-in) following a
known path; the frame is a static textured background with the people drawn back to front.
Detections are the true boxes with a little noise, except where the scene says the detector
missed (occlusion, an unusual pose), so identity and bridging can be checked against the truth.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

WIDTH, HEIGHT = 480, 320


@dataclass
class Person:
    colour: tuple[int, int, int]  # BGR
    path: Callable[[int], tuple[float, float]]  # frame -> centre (x, y), pixels
    height: float = 160.0
    depth: float = 1.0  # larger is further back (drawn first)
    missed: set[int] = field(default_factory=set)  # frames the detector does not report
    frames: range = range(0, 10**6)  # frames the person is in the scene
    seed: int = 0

    def box(self, i: int) -> np.ndarray:
        """Corner box [x1, y1, x2, y2] at frame i."""
        cx, cy = self.path(i)
        w = 0.4 * self.height
        return np.array([cx - w / 2, cy - self.height / 2, cx + w / 2, cy + self.height / 2])


def _texture(seed: int, shape: tuple[int, int]) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(-40, 41, size=(*shape, 1)).repeat(3, axis=2)


class Scene:
    def __init__(self, people: list[Person], seed: int = 0) -> None:
        self.people = people
        self.background = np.clip(90 + _texture(seed + 1000, (HEIGHT, WIDTH)), 0, 255).astype(np.uint8)
        self.textures = {id(p): _texture(p.seed + 7, (HEIGHT, WIDTH)) for p in people}
        self.rng = np.random.default_rng(seed)

    def frame(self, i: int) -> np.ndarray:
        """(H, W, 3) uint8 BGR frame i."""
        image = self.background.copy().astype(np.int64)
        for p in sorted(self.people, key=lambda p: -p.depth):
            if i not in p.frames:
                continue
            x1, y1, x2, y2 = np.round(p.box(i)).astype(int)
            x1, y1, x2, y2 = max(x1, 0), max(y1, 0), min(x2, WIDTH), min(y2, HEIGHT)
            if x2 <= x1 or y2 <= y1:
                continue
            # the texture moves with the person, so optical flow can follow it
            ox, oy = round(float(p.box(i)[0])), round(float(p.box(i)[1]))
            tex = np.roll(self.textures[id(p)], (oy, ox), axis=(0, 1))[y1:y2, x1:x2]
            image[y1:y2, x1:x2] = np.array(p.colour) + tex
        return np.clip(image, 0, 255).astype(np.uint8)

    def detections(self, i: int, noise: float = 1.5) -> np.ndarray:
        """(N, 5) [x1, y1, x2, y2, score] float32 of frame i."""
        rows = []
        for p in self.people:
            centre_x = (p.box(i)[0] + p.box(i)[2]) / 2
            if i in p.frames and i not in p.missed and 0 < centre_x < WIDTH:
                rows.append([*(p.box(i) + self.rng.normal(0, noise, 4)), 0.9])
        return np.array(rows, dtype=np.float32).reshape(-1, 5)

    def truth_of(self, box_cxcywh: np.ndarray, i: int) -> int:
        """Index of the person whose true centre is nearest to a track box at frame i."""
        present = [k for k, p in enumerate(self.people) if i in p.frames]
        centres = {k: (self.people[k].box(i)[:2] + self.people[k].box(i)[2:]) / 2 for k in present}
        return min(present, key=lambda k: float(np.linalg.norm(centres[k] - box_cxcywh[:2])))
