"""Where the add-on's pieces are: the bundled backend folder next to the add-on. Pure.

Inside the installed extension the backend package is `<addon dir>/backend`; in a source
checkout it is `<repo>/backend`, beside `<repo>/addon`.
"""

from __future__ import annotations

import os
from pathlib import Path

ADDON_DIR = Path(__file__).resolve().parents[1]


def find_backend_root(addon_dir: str | os.PathLike) -> Path:
    """The folder that holds the `backend` package, for an installed zip or a source checkout."""
    addon_dir = Path(addon_dir).resolve()
    for root in (addon_dir, addon_dir.parent):
        if (root / "backend" / "__main__.py").is_file():
            return root
    raise FileNotFoundError(
        f"the backend package was not found next to the add-on ({addon_dir}); reinstall the add-on zip")
