"""The `run` options, read from backend/run_options.json: the one table of their names, types,
defaults, choices and help that the CLI (`backend/commands/run.py`), `RunConfig`
(backend/pipeline.py) and the add-on (addon/core/run_options.py, which reads the same file by
path: it never imports `backend`) share. Stdlib only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

TABLE = Path(__file__).with_name("run_options.json")
_TYPES = {"int": int, "float": float, "str": str, "path": str, "bbox": str}


@dataclass(frozen=True)
class RunOption:
    name: str  # RunConfig field
    flag: str  # "--start", or the positional argument's name
    type: str  # int | float | str | bool | bbox | path
    default: object = None
    help: str = ""
    choices: tuple[str, ...] | None = None
    required: bool = False
    ui_default: object = None  # the add-on panel's own default, when it differs
    ui_items: dict = field(default_factory=dict)

    @property
    def dest(self) -> str:
        """The argparse attribute name (`--fps` -> fps; a bool switch stores into its own name, so
        `--no-box-smoothing` sets box_smoothing False)."""
        return self.name if self.type == "bool" else self.flag.lstrip("-").replace("-", "_")


def load(path: Path = TABLE) -> dict[str, RunOption]:
    raw = json.loads(Path(path).read_text(encoding="utf-8"))
    options = {}
    for item in raw["options"]:
        item = dict(item)
        if item.get("choices") is not None:
            item["choices"] = tuple(item["choices"])
        options[item["name"]] = RunOption(**item)
    return options


OPTIONS = load()


def default(name: str):
    """The CLI / RunConfig default of option `name` (a RunConfig field name)."""
    return OPTIONS[name].default


def add_arguments(parser, skip: tuple[str, ...] = ()) -> None:
    """Every run option on an argparse parser, as the table says (but those named in `skip`)."""
    for opt in OPTIONS.values():
        if opt.name in skip:
            continue
        if not opt.flag.startswith("-"):
            parser.add_argument(opt.flag, help=opt.help)
        elif opt.type == "bool":
            action = "store_false" if opt.default else "store_true"  # a switch away from the default
            parser.add_argument(opt.flag, dest=opt.dest, action=action, default=bool(opt.default),
                                help=opt.help)
        else:
            parser.add_argument(opt.flag, type=_TYPES[opt.type], default=opt.default, choices=opt.choices,
                                required=opt.required, help=opt.help)
