"""World grounding of a result (pure numpy + scipy, no torch): perspective-correct roots, one floor
plane fitted to the feet, the static camera's pose and every track's motion in that world.

Modules (the numpy SMPL is `backend.smpl_np`): `perspective` (crop -> camera rotation), `floor`
(foot candidates + robust plane fit), `camera_pose` (plane -> camera_to_world), `world`
(per-track world motion), `reader` (Contract 3 reader with the checks `ground` needs),
`ground` (the whole step on one result). Conventions: docs/world.md.
"""
