"""The second route: lift 2D COCO keypoints to 3D H36M joints with VideoPose3D (docs/lifting.md).

Pure torch model (`model`), strict checkpoint reader (`checkpoint`), the official in-the-wild
inference (`inference`), keypoint file readers (`keypoints`) and the skeleton facts (`skeleton`).
"""
