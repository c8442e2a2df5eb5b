"""TCMR mocap backend: video -> per-person SMPL sequences.

Runs in its own Python with torch (`python -m backend ...`). Talks to the Blender add-on only
through its command line, JSON lines on stdout (see `backend.events`) and a result directory
(see `backend.result`). The add-on never imports this package and this package never imports
the add-on.

Dimension glossary used in every shape comment of this package:
    F frames of a track or clip      T window length (16)        B batch
    J joints (24 SMPL, 49 TCMR)      V vertices (6890)           K attention branches (3)
    H, W image height and width in pixels
"""

__version__ = "0.1.0"
PROTOCOL_VERSION = 1
