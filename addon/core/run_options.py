"""The backend's table of `run` options (backend/run_options.json), read by path. Pure.

The add-on never imports `backend` (another Python runs it), but it ships it: the table is in
the bundled backend folder next to the add-on (core.backend_cmd.find_backend_root). Its choices,
defaults and labels make the panel's and the operator's properties and check the argv the
add-on sends, so the add-on and the CLI cannot drift apart. `ui_default` is the panel's own
default where it deliberately differs from the CLI's (smoothing: oneeuro for animators; the
CLI keeps none, as the official demo); the add-on always sends such an option explicitly.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from pathlib import Path

from .layout import ADDON_DIR, find_backend_root

TABLE_NAME = "run_options.json"


@dataclass(frozen=True)
class RunOption:
    name: str  # the backend's RunConfig field
    flag: str  # "--smooth"
    type: str
    default: object = None  # the CLI's default
    choices: tuple[str, ...] | None = None
    ui_default: object = None
    ui_items: dict = field(default_factory=dict)  # choice -> [label, description]
    help: str = ""

    @property
    def panel_default(self):
        """The default the add-on uses: `ui_default` where the table sets one, else the CLI's."""
        return self.default if self.ui_default is None else self.ui_default

    def enum_items(self) -> tuple[tuple[str, str, str], ...]:
        """(identifier, label, description) per choice, for a bpy EnumProperty."""
        return tuple((c, *self.ui_items.get(c, (c, ""))) for c in self.choices or ())


def table_path(addon_dir: str | Path = ADDON_DIR) -> Path:
    return find_backend_root(addon_dir) / "backend" / TABLE_NAME


@functools.cache
def options(path: str | None = None) -> dict[str, RunOption]:
    """{RunConfig field: RunOption} from the bundled backend's table (or the file `path`)."""
    raw = json.loads(Path(path or table_path()).read_text(encoding="utf-8"))
    out = {}
    for item in raw["options"]:
        choices = item.get("choices")
        out[item["name"]] = RunOption(
            name=item["name"], flag=item["flag"], type=item["type"], default=item.get("default"),
            choices=tuple(choices) if choices is not None else None, ui_default=item.get("ui_default"),
            ui_items=dict(item.get("ui_items") or {}), help=item.get("help", ""))
    return out


def option(name: str) -> RunOption:
    return options()[name]
