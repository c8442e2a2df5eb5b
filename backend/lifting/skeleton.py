"""Skeleton facts of the lifting route (VideoPose3D, docs/lifting.md): one place for each.

Input: the 17 COCO keypoints in COCO order. Output: the 17 Human3.6M joints VideoPose3D
predicts (its 32-joint H36M skeleton with the 15 static joints removed and both shoulders
re-parented to the thorax).
"""

from __future__ import annotations

COCO_NAMES = ("nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder",
              "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip",
              "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle")
# Left/right COCO keypoints swapped by the test-time flip (VideoPose3D's keypoints_symmetry).
COCO_LEFT = (1, 3, 5, 7, 9, 11, 13, 15)
COCO_RIGHT = (2, 4, 6, 8, 10, 12, 14, 16)

H36M_NAMES = ("hip", "right_hip", "right_knee", "right_foot", "left_hip", "left_knee", "left_foot",
              "spine", "thorax", "neck_nose", "head", "left_shoulder", "left_elbow", "left_wrist",
              "right_shoulder", "right_elbow", "right_wrist")
H36M_PARENTS = (-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15)
# Left/right H36M joints swapped back on the flipped prediction.
H36M_LEFT = (4, 5, 6, 11, 12, 13)
H36M_RIGHT = (1, 2, 3, 14, 15, 16)

NUM_KEYPOINTS = 17
NUM_JOINTS = 17

# OpenPose BODY_25 index of each COCO-17 keypoint (BODY_25: 0 nose, 1 neck, 2-4 right arm,
# 5-7 left arm, 8 mid hip, 9-11 right leg, 12-14 left leg, 15/16 right/left eye, 17/18 right/left ear).
BODY25_TO_COCO = (0, 16, 15, 18, 17, 5, 2, 6, 3, 7, 4, 12, 9, 13, 10, 14, 11)
