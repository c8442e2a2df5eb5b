"""Foot contact and foot locking on world-grounded tracks (pure numpy/scipy, no torch).

Entry point: `lock.apply_foot_lock`. Modules: `body` (numpy SMPL forward for joints and sole
vertices), `contacts` (planted-foot detection), `depth` (distance along the viewing ray from
planted feet), `leg_ik` (two-bone leg IK), `lock` (pins, blends and the whole pass).
See docs/footlock.md.
"""
