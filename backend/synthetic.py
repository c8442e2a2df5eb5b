"""Synthetic model data in the official file formats, for tests and `selftest` only.

The real SMPL model and TCMR/SPIN checkpoints are licensed and cannot be shipped or
downloaded here, so this module writes stand-ins with the *official layouts* (file names,
pickle classes, top-level keys, state-dict key names, dtypes and shapes, per
docs/tcmr_facts.md, Checkpoints and model files) filled with a made-up body and random weights:

* `SMPL_NEUTRAL.pkl`: Python-2-style protocol-2 pickle with chumpy `Ch` objects, a scipy CSC
  `J_regressor` (pickled under the old `scipy.sparse.csc` path), a kintree whose root parent is
  4294967295, 10 (or 300) shape dirs and 207 pose dirs, a closed 6890-vertex / 13776-face mesh
  shaped like a person (capsules around SMPL's T-pose skeleton) and skinned to SMPL's joint tree.
* `J_regressor_extra.npy` (9,6890), `J_regressor_h36m.npy` (17,6890), `smpl_mean_params.npz`.
* `spin_model_checkpoint.pth.tar` (SPIN's CheckpointSaver keys, `model` with 331 entries) and
  `tcmr_demo_model.pth.tar` (Trainer.save_model keys, `gen_state_dict` with 71 entries,
  `performance` a numpy float64).
* on request (`write_vibe_checkpoint`, not part of `write_model_data`): `vibe_model_wo_3dpw.pth.tar`
  in VIBE's layout (`gen_state_dict` with 35 entries, the motion discriminator alongside).

Every folder written here holds `SYNTHETIC_MODEL_DATA.txt`; output made from it is
meaningless and must never be presented as a real reconstruction.
"""

from __future__ import annotations

import contextlib
import copyreg
import pickle
import sys
import types
from collections import OrderedDict
from pathlib import Path

import numpy as np

from backend.safe_pickle import NUM_FACES, NUM_VERTS, SMPL_PARENTS

SYNTHETIC_MARKER = "SYNTHETIC_MODEL_DATA.txt"

# Approximate SMPL neutral rest joints, canonical frame (x left of the body, y up, z forward), m.
REST_JOINTS = np.array([
    [0.00, -0.23, 0.02], [0.06, -0.32, 0.01], [-0.06, -0.32, 0.01], [0.00, -0.12, -0.01],
    [0.10, -0.70, 0.01], [-0.10, -0.70, 0.01], [0.00, 0.02, 0.02], [0.09, -1.11, -0.03],
    [-0.09, -1.11, -0.03], [0.00, 0.08, 0.02], [0.12, -1.16, 0.09], [-0.12, -1.16, 0.09],
    [0.00, 0.29, -0.02], [0.08, 0.20, -0.01], [-0.08, 0.20, -0.01], [0.01, 0.36, 0.04],
    [0.17, 0.23, -0.02], [-0.17, 0.23, -0.02], [0.43, 0.21, -0.04], [-0.43, 0.21, -0.04],
    [0.68, 0.22, -0.04], [-0.68, 0.22, -0.04], [0.76, 0.21, -0.05], [-0.76, 0.21, -0.05],
])
# Capsule radius of the segment from each joint to its parent (index = child joint).
_RADII = np.array([0.0, 0.085, 0.085, 0.11, 0.075, 0.075, 0.12, 0.055, 0.055, 0.13, 0.045, 0.045,
                   0.07, 0.07, 0.07, 0.065, 0.06, 0.06, 0.05, 0.05, 0.04, 0.04, 0.035, 0.035])
# Leaf joints own a short stub segment so their bones have skin too.
_LEAF_TIPS = {10: (0.0, -0.02, 0.08), 11: (0.0, -0.02, 0.08), 15: (0.0, 0.14, 0.0),
              22: (0.07, 0.0, 0.0), 23: (-0.07, 0.0, 0.0)}


# ----------------------------------------------------------------------------------------------
# Body mesh
# ----------------------------------------------------------------------------------------------
def _sphere_topology(rings: int = 84, segments: int = 82) -> tuple[np.ndarray, np.ndarray]:
    """Unit directions (V,3) and faces (F,3) of a closed genus-0 mesh: 2 + rings*segments verts."""
    assert rings * segments + 2 == NUM_VERTS
    theta = np.pi * (np.arange(rings) + 1) / (rings + 1)
    phi = 2 * np.pi * np.arange(segments) / segments
    st, ct = np.sin(theta)[:, None], np.cos(theta)[:, None]
    ring = np.stack([st * np.cos(phi), np.broadcast_to(ct, (rings, segments)), st * np.sin(phi)], -1)
    dirs = np.concatenate([[[0.0, 1.0, 0.0]], ring.reshape(-1, 3), [[0.0, -1.0, 0.0]]])
    idx = 1 + np.arange(rings * segments).reshape(rings, segments)
    nxt = np.roll(idx, -1, axis=1)
    faces = [np.stack([np.zeros(segments, int), nxt[0], idx[0]], 1)]
    for r in range(rings - 1):
        a, b, c, d = idx[r], nxt[r], idx[r + 1], nxt[r + 1]
        faces += [np.stack([a, b, d], 1), np.stack([a, d, c], 1)]
    faces.append(np.stack([np.full(segments, NUM_VERTS - 1), idx[-1], nxt[-1]], 1))
    faces = np.concatenate(faces)
    assert faces.shape == (NUM_FACES, 3)
    return dirs, faces


def _segments() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Bone segments: start (S,3), end (S,3), radius (S,), owning joint (S,)."""
    starts, ends, radii, owners = [], [], [], []
    for child, parent in enumerate(SMPL_PARENTS):
        if parent >= 0:
            starts.append(REST_JOINTS[parent])
            ends.append(REST_JOINTS[child])
            radii.append(_RADII[child])
            owners.append(parent)
    for leaf, tip in _LEAF_TIPS.items():
        starts.append(REST_JOINTS[leaf])
        ends.append(REST_JOINTS[leaf] + np.array(tip))
        radii.append(0.09 if leaf == 15 else 0.035)
        owners.append(leaf)
    return np.array(starts), np.array(ends), np.array(radii), np.array(owners)


def _segment_distance(points: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Distance of points (N,3) to segments a->b (S,3): (N,S)."""
    ab = b - a  # (S,3)
    ap = points[:, None, :] - a[None]  # (N,S,3)
    t = np.clip((ap * ab).sum(-1) / np.maximum((ab * ab).sum(-1), 1e-12), 0.0, 1.0)
    closest = a[None] + t[..., None] * ab[None]
    return np.linalg.norm(points[:, None, :] - closest, axis=-1)


def synthetic_body(seed: int = 0) -> dict[str, np.ndarray]:
    """A person-like closed mesh with SMPL's vertex/face counts, skinning and joint regressor."""
    rng = np.random.default_rng(seed)
    dirs, faces = _sphere_topology()
    a, b, radius, owner = _segments()
    center = np.array([0.0, -0.05, 0.0])
    # Star-shaped body: along each direction, the farthest point still inside the capsule union.
    steps = np.linspace(0.0, 1.45, 98)
    reach = np.zeros(NUM_VERTS)
    for chunk in np.array_split(np.arange(NUM_VERTS), 8):
        pts = center + dirs[chunk, None, :] * steps[None, :, None]  # (n,steps,3)
        d = _segment_distance(pts.reshape(-1, 3), a, b) - radius[None]
        inside = (d.min(1) < 0).reshape(len(chunk), len(steps))
        last = len(steps) - 1 - np.argmax(inside[:, ::-1], axis=1)
        reach[chunk] = steps[last] + 0.004
    verts = center + dirs * reach[:, None]

    # Skinning: soft assignment to the joints owning the nearest segments (top 3).
    dist = _segment_distance(verts, a, b) - radius[None]  # (V,S)
    per_joint = np.full((NUM_VERTS, 24), np.inf)
    for s, j in enumerate(owner):
        per_joint[:, j] = np.minimum(per_joint[:, j], dist[:, s])
    logits = -(per_joint - per_joint.min(1, keepdims=True)) / 0.015
    top = np.argsort(-logits, axis=1)[:, :3]
    weights = np.zeros((NUM_VERTS, 24))
    rows = np.arange(NUM_VERTS)[:, None]
    weights[rows, top] = np.exp(logits[rows, top])
    weights /= weights.sum(1, keepdims=True)

    # Joint regressor: minimum-norm affine weights of the 48 nearest vertices that hit the joint.
    j_reg = np.zeros((24, NUM_VERTS))
    for j in range(24):
        near = np.argsort(np.linalg.norm(verts - REST_JOINTS[j], axis=1))[:48]
        A = np.vstack([verts[near].T, np.ones(len(near))])  # (4,48)
        target = np.append(REST_JOINTS[j], 1.0)
        j_reg[j, near] = A.T @ np.linalg.solve(A @ A.T, target)

    # Smooth low-rank blend shapes: RBF features of the rest position times random codes.
    centers = verts[rng.choice(NUM_VERTS, 24, replace=False)]
    feats = np.exp(-np.linalg.norm(verts[:, None] - centers[None], axis=-1) ** 2 / (2 * 0.15**2))  # (V,24)
    feats /= feats.max(0, keepdims=True)
    height = (verts - REST_JOINTS[0]) * np.array([0.25, 1.0, 0.25]) * 0.06
    return {"verts": verts, "faces": faces, "weights": weights, "J_regressor": j_reg,
            "feats": feats, "height_dir": height}


def _blend_shapes(body: dict, count: int, scale: float, rng: np.random.Generator) -> np.ndarray:
    codes = rng.normal(0.0, scale, size=(body["feats"].shape[1], 3 * count))
    return (body["feats"] @ codes).reshape(NUM_VERTS, 3, count)


# ----------------------------------------------------------------------------------------------
# Pickle classes as the official files name them (chumpy, old scipy paths), without the packages
# ----------------------------------------------------------------------------------------------
class _Ch:
    """Pickles like chumpy.ch.Ch: NEWOBJ of chumpy.ch.Ch, then its __dict__ with the array in x."""

    def __init__(self, x: np.ndarray) -> None:
        self.x = x

    def __reduce_ex__(self, protocol):
        state = {"x": self.x, "_dirty_vars": set(), "_itr": None, "_depends_on_deps": {}}
        return copyreg.__newobj__, (type(self),), state


class _Csc:
    """Pickles like a 2015 scipy.sparse.csc.csc_matrix (its __dict__ with _shape, data, ...)."""

    def __init__(self, dense: np.ndarray) -> None:
        cols = [np.nonzero(dense[:, c])[0] for c in range(dense.shape[1])]
        self.state = {
            "_shape": dense.shape, "maxprint": 50, "format": "csc",
            "indices": np.concatenate(cols).astype(np.int32),
            "indptr": np.concatenate([[0], np.cumsum([len(c) for c in cols])]).astype(np.int32),
            "data": np.concatenate([dense[c, i] for i, c in enumerate(cols)]).astype(np.float64),
        }

    def __reduce_ex__(self, protocol):
        return copyreg.__newobj__, (type(self),), self.state


@contextlib.contextmanager
def _official_class_paths():
    """Temporarily expose _Ch as chumpy.ch.Ch and _Csc as scipy.sparse.csc.csc_matrix."""
    saved = {name: sys.modules.get(name) for name in ("chumpy", "chumpy.ch", "scipy.sparse.csc")}
    try:
        for cls, module, name in ((_Ch, "chumpy.ch", "Ch"), (_Csc, "scipy.sparse.csc", "csc_matrix")):
            mod = types.ModuleType(module)
            setattr(mod, name, cls)
            cls.__module__, cls.__qualname__ = module, name
            sys.modules[module] = mod
        sys.modules["chumpy"] = types.ModuleType("chumpy")
        yield
    finally:
        for name, mod in saved.items():
            if mod is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = mod
        _Ch.__module__, _Ch.__qualname__ = __name__, "_Ch"
        _Csc.__module__, _Csc.__qualname__ = __name__, "_Csc"


def write_smpl_pkl(path: Path, seed: int = 0, num_betas: int = 10, chumpy: bool = True) -> Path:
    """SMPL_NEUTRAL.pkl in the official key layout (14 keys)."""
    rng = np.random.default_rng(seed + 1)
    body = synthetic_body(seed)
    shapedirs = _blend_shapes(body, num_betas, 0.01, rng)
    shapedirs[:, :, 0] = body["height_dir"]
    posedirs = _blend_shapes(body, 207, 0.004, rng)
    j_reg = body["J_regressor"]
    verts = body["verts"]
    mirror = np.array([np.argmin(np.linalg.norm(verts - v * [-1, 1, 1], axis=1)) for v in verts])
    kintree = np.array([[4294967295, *SMPL_PARENTS[1:]], list(range(24))], dtype=np.int64)
    wrap = _Ch if chumpy else (lambda x: x)
    data = {
        "J_regressor_prior": _Csc(j_reg),
        "f": body["faces"].astype(np.uint32),
        "J_regressor": _Csc(j_reg),
        "kintree_table": kintree,
        "J": wrap(j_reg @ body["verts"]),
        "weights_prior": wrap(body["weights"]),
        "weights": wrap(body["weights"]),
        "vert_sym_idxs": mirror.astype(np.int64),
        "posedirs": wrap(posedirs),
        "pose_training_info": {"num_subjects": 0, "num_poses": 0, "num_parts": 24, "num_betas": num_betas,
                               "synthetic": True, "seed": seed},
        "bs_style": "lbs",
        "v_template": wrap(body["verts"]),
        "shapedirs": wrap(shapedirs),
        "bs_type": "lrotmin",
    }
    with _official_class_paths():
        payload = pickle.dumps(data, protocol=2)
    path.write_bytes(payload)
    return path


# ----------------------------------------------------------------------------------------------
# Regressors, mean params and checkpoints
# ----------------------------------------------------------------------------------------------
def _sparse_regressor(rows: int, rng: np.random.Generator, verts: np.ndarray) -> np.ndarray:
    """Non-negative rows summing to 1 over a few neighbouring vertices (like SPIN's files)."""
    out = np.zeros((rows, NUM_VERTS))
    for r in range(rows):
        seed_vertex = rng.integers(NUM_VERTS)
        near = np.argsort(np.linalg.norm(verts - verts[seed_vertex], axis=1))[:12]
        w = rng.uniform(0.1, 1.0, len(near))
        out[r, near] = w / w.sum()
    return out


def mean_params(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """smpl_mean_params.npz arrays: root pi about x (camera frame), other joints near identity."""
    rot = np.tile(np.eye(3), (24, 1, 1))
    rot[0] = np.diag([1.0, -1.0, -1.0])
    small = rng.normal(0.0, 0.05, size=(24, 3, 2))
    pose6d = (rot[:, :, :2] + small * (np.arange(24) > 0)[:, None, None]).reshape(144)
    return {"pose": pose6d.astype(np.float32), "shape": rng.normal(0, 0.2, 10).astype(np.float64),
            "cam": np.array([0.9, 0.02, 0.15], dtype=np.float32)}


def _uniform(rng: np.random.Generator, shape, bound: float):
    import torch

    return torch.from_numpy(rng.uniform(-bound, bound, size=shape).astype(np.float32))


def _gru_params(prefix: str, rng, input_size: int, hidden: int, layers: int, bidirectional: bool) -> dict:
    out = {}
    bound = 1.0 / np.sqrt(hidden)
    for layer in range(layers):
        for suffix in ("", "_reverse") if bidirectional else ("",):
            in_size = input_size if layer == 0 else hidden * (2 if bidirectional else 1)
            out[f"{prefix}weight_ih_l{layer}{suffix}"] = _uniform(rng, (3 * hidden, in_size), bound)
            out[f"{prefix}weight_hh_l{layer}{suffix}"] = _uniform(rng, (3 * hidden, hidden), bound)
            out[f"{prefix}bias_ih_l{layer}{suffix}"] = _uniform(rng, (3 * hidden,), bound)
            out[f"{prefix}bias_hh_l{layer}{suffix}"] = _uniform(rng, (3 * hidden,), bound)
    return out


def _linear(prefix: str, rng, fan_in: int, fan_out: int, gain: float | None = None) -> dict:
    if gain is None:  # PyTorch's default Linear init
        w_bound = b_bound = 1.0 / np.sqrt(fan_in)
    else:  # xavier_uniform(gain), as SPIN initialises decpose/decshape/deccam
        w_bound, b_bound = gain * np.sqrt(6.0 / (fan_in + fan_out)), 1.0 / np.sqrt(fan_in)
    return {f"{prefix}weight": _uniform(rng, (fan_out, fan_in), w_bound),
            f"{prefix}bias": _uniform(rng, (fan_out,), b_bound)}


def _regressor_params(prefix: str, rng, mean: dict) -> dict:
    import torch

    out = {f"{prefix}init_pose": torch.from_numpy(mean["pose"][None].copy()),
           f"{prefix}init_shape": torch.from_numpy(mean["shape"][None].astype(np.float32)),
           f"{prefix}init_cam": torch.from_numpy(mean["cam"][None].copy())}
    out |= _linear(f"{prefix}fc1.", rng, 2205, 1024)
    out |= _linear(f"{prefix}fc2.", rng, 1024, 1024)
    out |= _linear(f"{prefix}decpose.", rng, 1024, 144, gain=0.01)
    out |= _linear(f"{prefix}decshape.", rng, 1024, 10, gain=0.01)
    out |= _linear(f"{prefix}deccam.", rng, 1024, 3, gain=0.01)
    return out


def _bn(prefix: str, rng, channels: int, gamma: tuple[float, float] = (0.8, 1.2)) -> dict:
    import torch

    def f32(a):
        return torch.from_numpy(a.astype(np.float32))

    return {f"{prefix}weight": f32(rng.uniform(*gamma, channels)),
            f"{prefix}bias": f32(rng.normal(0.0, 0.05, channels)),
            f"{prefix}running_mean": f32(rng.normal(0.0, 0.05, channels)),
            f"{prefix}running_var": f32(rng.uniform(0.7, 1.3, channels)),
            f"{prefix}num_batches_tracked": torch.tensor(1000, dtype=torch.int64)}


def _conv(rng, out_c: int, in_c: int, k: int):
    import torch

    std = np.sqrt(2.0 / (out_c * k * k))  # kaiming normal, fan_out, relu (torchvision's init)
    return torch.from_numpy(rng.normal(0.0, std, size=(out_c, in_c, k, k)).astype(np.float32))


def resnet50_state(rng: np.random.Generator) -> dict:
    """SPIN/HMR ResNet-50 trunk keys (conv1, bn1, layer1..4) in torchvision v1.5 layout."""
    state = {"conv1.weight": _conv(rng, 64, 3, 7)} | _bn("bn1.", rng, 64)
    in_c = 64
    for layer, (blocks, width) in enumerate(((3, 64), (4, 128), (6, 256), (3, 512)), start=1):
        for block in range(blocks):
            p = f"layer{layer}.{block}."
            state[p + "conv1.weight"] = _conv(rng, width, in_c, 1)
            state |= _bn(p + "bn1.", rng, width)
            state[p + "conv2.weight"] = _conv(rng, width, width, 3)
            state |= _bn(p + "bn2.", rng, width)
            state[p + "conv3.weight"] = _conv(rng, width * 4, width, 1)
            # Small last-BN gain keeps random residual activations O(1) through 16 blocks.
            state |= _bn(p + "bn3.", rng, width * 4, gamma=(0.15, 0.3))
            if block == 0:
                state[p + "downsample.0.weight"] = _conv(rng, width * 4, in_c, 1)
                state |= _bn(p + "downsample.1.", rng, width * 4)
            in_c = width * 4
    return state


def _adam_state(num_params: int) -> dict:
    return {"state": {}, "param_groups": [{"lr": 5e-05, "betas": (0.9, 0.999), "eps": 1e-08,
                                           "weight_decay": 0.0, "amsgrad": False,
                                           "params": list(range(num_params))}]}


def _smpl_buffers(s: str, smpl: dict) -> OrderedDict:
    """The 12 smplx SMPL buffers the official regressors carry in their state dicts."""
    import torch

    state = OrderedDict()
    f32 = lambda a: torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))  # noqa: E731
    state[s + "betas"] = torch.zeros(64, 10)
    state[s + "global_orient"] = torch.zeros(64, 3)
    state[s + "body_pose"] = torch.zeros(64, 69)
    state[s + "faces_tensor"] = torch.from_numpy(smpl["faces"].astype(np.int64))
    state[s + "v_template"] = f32(smpl["v_template"])
    state[s + "shapedirs"] = f32(smpl["shapedirs"][:, :, :10])
    state[s + "J_regressor"] = f32(smpl["J_regressor"])
    state[s + "posedirs"] = f32(smpl["posedirs"].reshape(-1, 207).T)
    state[s + "parents"] = torch.tensor(SMPL_PARENTS, dtype=torch.int64)
    state[s + "lbs_weights"] = f32(smpl["weights"])
    state[s + "J_regressor_extra"] = f32(smpl["J_regressor_extra"])
    state[s + "vertex_joint_selector.extra_joints_idxs"] = torch.tensor(
        [332, 6260, 2800, 4071, 583, 3216, 3226, 3387, 6617, 6624, 6787,
         2746, 2319, 2445, 2556, 2673, 6191, 5782, 5905, 6016, 6133], dtype=torch.int64)
    return state


def tcmr_state(rng: np.random.Generator, mean: dict, smpl: dict) -> OrderedDict:
    """gen_state_dict: 71 keys (46 encoder, 13 regressor, 12 regressor.smpl buffers)."""
    e = "encoder."
    state = OrderedDict()
    state |= _gru_params(e + "gru_cur.", rng, 2048, 1024, 2, True)
    state |= _gru_params(e + "gru_bef.", rng, 2048, 1024, 2, False)
    state |= _gru_params(e + "gru_aft.", rng, 2048, 1024, 2, False)
    state |= _linear(e + "linear_cur.", rng, 2048, 2048)
    state |= _linear(e + "linear_bef.", rng, 1024, 2048)
    state |= _linear(e + "linear_aft.", rng, 1024, 2048)
    state |= _linear(e + "attention.fc.", rng, 2048, 256)
    state |= _linear(e + "attention.attention.0.", rng, 768, 256)
    state |= _linear(e + "attention.attention.2.", rng, 256, 256)
    state |= _linear(e + "attention.attention.4.", rng, 256, 3)
    state |= _regressor_params("regressor.", rng, mean)
    state |= _smpl_buffers("regressor.smpl.", smpl)
    assert len(state) == 71
    return state


def motion_discriminator_state(rng: np.random.Generator) -> OrderedDict:
    state = OrderedDict(_gru_params("gru.", rng, 69, 1024, 2, False))
    state |= _linear("attention.attention.0.", rng, 1024, 1024)
    state |= _linear("attention.attention.3.", rng, 1024, 1024)
    state |= _linear("attention.attention.6.", rng, 1024, 1)
    state |= _linear("fc.", rng, 1024, 1)
    assert len(state) == 16
    return state


def write_model_data(folder: str | Path, seed: int = 0, smpl_betas: int = 10, chumpy: bool = True,
                     tcmr_legacy_format: bool = True) -> Path:
    """Write a complete synthetic `base_data` folder. Returns the folder.

    `tcmr_legacy_format` saves the TCMR checkpoint with torch's pre-1.6 (non-zip) serialization,
    as the 2021 release most likely was; the SPIN checkpoint uses the zip format.
    """
    import torch

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed + 7)
    (folder / SYNTHETIC_MARKER).write_text(
        "SYNTHETIC model data written by backend.synthetic for tests and selftest.\n"
        "Random weights and a made-up body: any output made from these files is meaningless.\n")
    write_smpl_pkl(folder / "SMPL_NEUTRAL.pkl", seed=seed, num_betas=smpl_betas, chumpy=chumpy)
    from backend.smpl_file import load_smpl

    smpl = load_smpl(folder / "SMPL_NEUTRAL.pkl")
    verts = smpl.v_template
    j_extra = _sparse_regressor(9, rng, verts)
    np.save(folder / "J_regressor_extra.npy", j_extra)
    np.save(folder / "J_regressor_h36m.npy", _sparse_regressor(17, rng, verts))
    mean = mean_params(rng)
    np.savez(folder / "smpl_mean_params.npz", **mean)

    spin_model = OrderedDict(_regressor_params("", rng, mean))
    spin_model = OrderedDict(list(spin_model.items())[:3] + list(resnet50_state(rng).items())
                             + list(spin_model.items())[3:])
    assert len(spin_model) == 331
    torch.save({"model": spin_model, "optimizer": _adam_state(len(spin_model)), "epoch": 5,
                "batch_idx": 0, "batch_size": 64, "dataset_perm": torch.randperm(100),
                "total_step_count": 40000}, folder / "spin_model_checkpoint.pth.tar")

    smpl_arrays = {"faces": smpl.faces, "v_template": smpl.v_template, "shapedirs": smpl.shapedirs,
                   "J_regressor": smpl.J_regressor, "posedirs": smpl.posedirs, "weights": smpl.weights,
                   "J_regressor_extra": j_extra}
    gen = tcmr_state(rng, mean, smpl_arrays)
    disc = motion_discriminator_state(rng)
    torch.save({"epoch": 30, "gen_state_dict": gen, "performance": np.float64(52.7),
                "gen_optimizer": _adam_state(len(gen)), "disc_motion_state_dict": disc,
                "disc_motion_optimizer": _adam_state(len(disc))},
               folder / "tcmr_demo_model.pth.tar", _use_new_zipfile_serialization=not tcmr_legacy_format)
    return folder


def is_synthetic(folder: str | Path) -> bool:
    return (Path(folder) / SYNTHETIC_MARKER).exists()


# ----------------------------------------------------------------------------------------------
# VIBE checkpoint (optional file; written on request, not by write_model_data)
# ----------------------------------------------------------------------------------------------
def vibe_state(rng: np.random.Generator, mean: dict, smpl: dict) -> OrderedDict:
    """VIBE's gen_state_dict: 35 keys (8 encoder.gru, 2 encoder.linear, 13 regressor, and the
    12 regressor.smpl buffers it shares with TCMR's layout)."""
    state = OrderedDict(_gru_params("encoder.gru.", rng, 2048, 1024, 2, False))
    state |= _linear("encoder.linear.", rng, 1024, 2048)
    state |= _regressor_params("regressor.", rng, mean)
    state |= _smpl_buffers("regressor.smpl.", smpl)
    assert len(state) == 35
    return state


def write_vibe_checkpoint(folder: str | Path, seed: int = 0, name: str = "vibe_model_wo_3dpw.pth.tar",
                          legacy_format: bool = True) -> Path:
    """Add a synthetic VIBE checkpoint to a synthetic data folder written by `write_model_data`.

    Top level as VIBE's Trainer.save_model writes it: epoch, gen_state_dict, performance (a numpy
    float64), gen_optimizer, disc_motion_state_dict (the motion discriminator: GRU 69 -> 1024,
    2 layers, attention pooling, fc) and disc_motion_optimizer. regressor.init_* are the folder's
    smpl_mean_params, the SMPL buffers its SMPL_NEUTRAL.pkl. Returns the file's path.
    """
    import torch

    from backend.smpl_file import load_smpl

    folder = Path(folder)
    if not is_synthetic(folder):
        raise ValueError(f"{folder} is not a synthetic data folder (write_model_data first)")
    rng = np.random.default_rng(seed + 11)
    with np.load(folder / "smpl_mean_params.npz") as npz:
        mean = {k: np.asarray(npz[k]) for k in ("pose", "shape", "cam")}
    smpl = load_smpl(folder / "SMPL_NEUTRAL.pkl")
    smpl_arrays = {"faces": smpl.faces, "v_template": smpl.v_template, "shapedirs": smpl.shapedirs,
                   "J_regressor": smpl.J_regressor, "posedirs": smpl.posedirs, "weights": smpl.weights,
                   "J_regressor_extra": np.load(folder / "J_regressor_extra.npy")}
    gen = vibe_state(rng, mean, smpl_arrays)
    disc = motion_discriminator_state(rng)
    path = folder / name
    torch.save({"epoch": 29, "gen_state_dict": gen, "performance": np.float64(56.56),
                "gen_optimizer": _adam_state(len(gen)), "disc_motion_state_dict": disc,
                "disc_motion_optimizer": _adam_state(len(disc))},
               path, _use_new_zipfile_serialization=not legacy_format)
    return path
