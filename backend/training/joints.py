"""Joint orders of the official training databases and their conversion to the 49 SPIN joints.

The 49 joints (network output and every training label) are the 25 OpenPose BODY_25 joints
followed by 24 "GT" joints (docs/tcmr_facts.md "The network"). Source orders, by name (official
`lib/data_utils/_kp_utils.py`): `common` (14 LSP joints, 3DPW), `insta` (InstaVariety, 25),
`posetrack` (17), `pennaction` (13). A target joint whose name the source lacks gets
(0, 0, 0): confidence 0, so the 2D loss ignores it (official `convert_kps`).
"""

from __future__ import annotations

import numpy as np

SPIN49 = (
    "OP Nose", "OP Neck", "OP RShoulder", "OP RElbow", "OP RWrist", "OP LShoulder", "OP LElbow", "OP LWrist",
    "OP MidHip", "OP RHip", "OP RKnee", "OP RAnkle", "OP LHip", "OP LKnee", "OP LAnkle", "OP REye", "OP LEye",
    "OP REar", "OP LEar", "OP LBigToe", "OP LSmallToe", "OP LHeel", "OP RBigToe", "OP RSmallToe", "OP RHeel",
    "rankle", "rknee", "rhip", "lhip", "lknee", "lankle", "rwrist", "relbow", "rshoulder", "lshoulder",
    "lelbow", "lwrist", "neck", "headtop", "hip", "thorax", "Spine (H36M)", "Jaw (H36M)", "Head (H36M)",
    "nose", "leye", "reye", "lear", "rear",
)
COMMON14 = ("rankle", "rknee", "rhip", "lhip", "lknee", "lankle", "rwrist", "relbow", "rshoulder",
            "lshoulder", "lelbow", "lwrist", "neck", "headtop")
INSTA25 = ("OP RHeel", "OP RKnee", "OP RHip", "OP LHip", "OP LKnee", "OP LHeel", "OP RWrist", "OP RElbow",
           "OP RShoulder", "OP LShoulder", "OP LElbow", "OP LWrist", "OP Neck", "headtop", "OP Nose",
           "OP LEye", "OP REye", "OP LEar", "OP REar", "OP LBigToe", "OP RBigToe", "OP LSmallToe",
           "OP RSmallToe", "OP LAnkle", "OP RAnkle")
POSETRACK17 = ("nose", "neck", "headtop", "lear", "rear", "lshoulder", "rshoulder", "lelbow", "relbow",
               "lwrist", "rwrist", "lhip", "rhip", "lknee", "rknee", "lankle", "rankle")
PENNACTION13 = ("headtop", "lshoulder", "rshoulder", "lelbow", "relbow", "lwrist", "rwrist", "lhip", "rhip",
                "lknee", "rknee", "lankle", "rankle")
ORDERS = {"spin": SPIN49, "common": COMMON14, "insta": INSTA25, "posetrack": POSETRACK17,
          "pennaction": PENNACTION13}

NUM_JOINTS = 49
LSP14 = slice(25, 39)  # rows of the 14 LSP joints inside the 49; the 3D loss uses these
LSP_HIPS = (2, 3)  # rhip, lhip inside the 14: the 3D loss centres both skeletons on their mean


def to_spin49(joints: np.ndarray, src: str) -> np.ndarray:
    """(N, J_src, C) in order `src` -> (N, 49, C) float64, zeros where the source has no joint."""
    names = ORDERS[src]
    joints = np.asarray(joints)
    if joints.ndim != 3 or joints.shape[1] != len(names):
        raise ValueError(f"{src} joints must be (N, {len(names)}, C), got {joints.shape}")
    out = np.zeros((joints.shape[0], NUM_JOINTS, joints.shape[2]), dtype=np.float64)
    for dst, name in enumerate(SPIN49):
        if name in names:
            out[:, dst] = joints[:, names.index(name)]
    return out
