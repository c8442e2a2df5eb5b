"""The batch schedule: which windows make global batch `step`, and which part a process takes.

As the official trainer (`lib/dataset/_loaders.py`, `lib/core/trainer.py`): the 2D sets are one
concatenated stream and the 3D sets another, each shuffled; a batch of B windows takes
int(B * 0.6) from the 2D stream and the rest from the 3D stream (all B from the one stream
when only one kind is given). A stream restarts with a new shuffle when it runs out.

Unlike a DataLoader, the schedule is a pure function of (seed, step): pass k of a stream is the
permutation `default_rng([seed, stream, k])`, and batch `step` takes the next B_stream positions
of the endless sequence of passes. So a resumed run sees exactly the batches an uninterrupted
one sees, and N distributed processes split the very batch one process would see (process r
takes rows [r*B/N, (r+1)*B/N) of it). Every batch is full: the official loader's short last
batch of each pass is not reproduced.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from backend.training.data import TrainDb
from backend.training.windows import MID, SEQLEN

DATA_2D_RATIO = 0.6  # TRAIN.DATA_2D_RATIO of every paper config


@dataclass
class Stream:
    """Concatenated windows of some databases: window id -> (db index, start row)."""

    stream_id: int  # 0: 2D, 1: 3D (seeds the shuffles)
    dbs: list[TrainDb]
    db_index: np.ndarray  # (W,) int64
    starts: np.ndarray  # (W,) int64

    @classmethod
    def of(cls, stream_id: int, dbs: list[TrainDb]) -> Stream:
        db_index = np.concatenate([np.full(len(d.windows), i, np.int64) for i, d in enumerate(dbs)])
        starts = np.concatenate([d.windows for d in dbs])
        return cls(stream_id, dbs, db_index, starts)

    def __len__(self) -> int:
        return len(self.starts)


def split_sizes(batch_size: int, has_2d: bool, has_3d: bool) -> tuple[int, int]:
    """(windows from the 2D stream, from the 3D stream) per global batch."""
    if has_2d and has_3d:
        n2 = int(batch_size * DATA_2D_RATIO)
        return n2, batch_size - n2
    return (batch_size, 0) if has_2d else (0, batch_size)


class Schedule:
    def __init__(self, dbs: list[TrainDb], batch_size: int, seed: int) -> None:
        d2 = [d for d in dbs if not d.is_3d]
        d3 = [d for d in dbs if d.is_3d]
        self.streams = [Stream.of(0, d2) if d2 else None, Stream.of(1, d3) if d3 else None]
        self.sizes = split_sizes(batch_size, bool(d2), bool(d3))
        self.batch_size = batch_size
        self.seed = seed
        self._perm: dict[tuple[int, int], np.ndarray] = {}

    def _permutation(self, stream: Stream, k: int) -> np.ndarray:
        key = (stream.stream_id, k)
        if key not in self._perm:
            if len(self._perm) > 4:
                self._perm.clear()
            rng = np.random.default_rng([self.seed, stream.stream_id, k])
            self._perm[key] = rng.permutation(len(stream))
        return self._perm[key]

    def _take(self, stream: Stream, first: int, count: int) -> np.ndarray:
        """Window ids at positions first..first+count-1 of the stream's endless shuffled passes."""
        pos = np.arange(first, first + count, dtype=np.int64)
        ids = np.empty(count, dtype=np.int64)
        for k in np.unique(pos // len(stream)):
            sel = pos // len(stream) == k
            ids[sel] = self._permutation(stream, int(k))[pos[sel] % len(stream)]
        return ids

    def global_batch(self, step: int) -> list[tuple[Stream, np.ndarray]]:
        """[(stream, window ids)] of batch `step`, 2D part first (the official concatenation order)."""
        parts = []
        for stream, size in zip(self.streams, self.sizes, strict=True):
            if stream is not None and size:
                parts.append((stream, self._take(stream, step * size, size)))
        return parts

    def epoch_windows(self) -> int:
        return sum(len(s) for s in self.streams if s is not None)


@dataclass
class Batch:
    """Rows of one (process's part of a) batch: inputs and the centre frame's labels."""

    features: np.ndarray  # (b, 16, 2048) float32
    kp_2d: np.ndarray  # (b, 49, 3)
    kp_3d: np.ndarray  # (b, 49, 3)
    pose: np.ndarray  # (b, 72)
    shape: np.ndarray  # (b, 10)
    w_3d: np.ndarray  # (b,)
    w_smpl: np.ndarray  # (b,)
    keys: list[tuple[int, int]]  # (stream id, window id) per row


def gather(parts: list[tuple[Stream, np.ndarray]]) -> Batch:
    """Window ids -> a Batch (features of the 16 frames, labels of frame start + 8)."""
    rows: dict[str, list] = {k: [] for k in Batch.__dataclass_fields__}
    for stream, ids in parts:
        for wid in ids:
            rows["keys"].append((stream.stream_id, int(wid)))
            db = stream.dbs[int(stream.db_index[wid])]
            start = int(stream.starts[wid])
            mid = start + MID
            rows["features"].append(np.asarray(db.features[start:start + SEQLEN], dtype=np.float32))
            for key in ("kp_2d", "kp_3d", "pose", "shape", "w_3d", "w_smpl"):
                rows[key].append(getattr(db, key)[mid])
    return Batch(**{k: v if k == "keys" else np.stack(v) for k, v in rows.items()})


Parts = list[tuple[Stream, np.ndarray]]


def rank_slice(parts: Parts, rank: int, world: int) -> Parts:
    """Process `rank`'s contiguous share [r*B/N, (r+1)*B/N) of a global batch (B divisible by N)."""
    total = sum(len(ids) for _, ids in parts)
    per = total // world
    lo, hi = rank * per, (rank + 1) * per
    out, offset = [], 0
    for stream, ids in parts:
        a, b = max(lo - offset, 0), min(hi - offset, len(ids))
        if a < b:
            out.append((stream, ids[a:b]))
        offset += len(ids)
    return out


def global_counts(parts: list[tuple[Stream, np.ndarray]]) -> tuple[int, int, int]:
    """(windows, with a 3D label, with an SMPL label) of the whole global batch."""
    n = n3 = ns = 0
    for stream, ids in parts:
        for wid in ids:
            db = stream.dbs[int(stream.db_index[wid])]
            mid = int(stream.starts[wid]) + MID
            n += 1
            n3 += int(db.w_3d[mid] > 0)
            ns += int(db.w_smpl[mid] > 0)
    return n, n3, ns
