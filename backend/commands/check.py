"""`python -m backend check [--data-dir D]`: validate every model data file by loading it.

Prints a table on stderr (file, status found / missing / invalid, and for problems where to get
the file and where it goes). Protocol: `result` with a `files` list when everything is fine,
else one `error` (DATA_MISSING when a file is absent, else DATA_INVALID) naming the files.
A synthetic folder passes with a SYNTHETIC_DATA warning: output made from it is meaningless.
"""

from __future__ import annotations

from pathlib import Path

from backend import datafiles
from backend.errors import BackendError, Code

HELP = "check the model data folder: names each missing or invalid file and where to get it"
NEEDS_DEVICE = False


def add_arguments(parser) -> None:
    return None


def validate(file: datafiles.DataFile, path: Path) -> None:
    """Load `path` the way the network does; raises BackendError on any problem."""
    from backend.models import checkpoint, loading
    from backend.smpl_file import load_smpl

    if file is datafiles.SMPL_NEUTRAL:
        load_smpl(path)
    elif file is datafiles.J_REGRESSOR_EXTRA:
        loading.load_regressor_npy(path, 9)
    elif file is datafiles.J_REGRESSOR_H36M:
        loading.load_regressor_npy(path, 17)
    elif file is datafiles.SMPL_MEAN_PARAMS:
        loading.load_mean_params(path)
    elif file is datafiles.SPIN_CHECKPOINT:
        checkpoint.load_backbone_state(path)
    elif file is datafiles.TCMR_CHECKPOINT:
        checkpoint.load_tcmr_state(path)
    elif file in datafiles.OPTIONAL_FILES:  # the VIBE checkpoints (--model vibe)
        checkpoint.load_vibe_state(path)
    elif file is datafiles.VIDEOPOSE3D_CHECKPOINT:
        from backend.lifting.checkpoint import load_lift_weights

        load_lift_weights(path)
    else:  # a new entry in datafiles.ALL_FILES without a validator is a bug
        raise AssertionError(f"no validator for {file.name}")


def check_folder(folder: Path) -> list[dict]:
    """One row per file: name, path, status, problem, purpose, source, required_for, optional.

    Optional files (datafiles.CHECKED_OPTIONAL_FILES: the VIBE checkpoints and the VideoPose3D
    lifting checkpoint) that are absent get status "optional" and do not fail the check; present
    ones are validated like the others."""
    rows = []
    for file in datafiles.ALL_FILES + datafiles.CHECKED_OPTIONAL_FILES:
        path = folder / file.name
        optional = file in datafiles.CHECKED_OPTIONAL_FILES
        row = {"name": file.name, "path": str(path), "status": "found", "problem": "",
               "purpose": file.purpose, "source": file.source, "required_for": list(file.required_for),
               "optional": optional}
        if not path.is_file():
            row["status"] = "optional" if optional else "missing"
            use = datafiles.OPTIONAL_USE.get(file.name, "")
            row["problem"] = f"not found (optional: only needed for {use})" if optional else "not found"
        else:
            try:
                validate(file, path)
            except BackendError as exc:
                row["status"] = "missing" if exc.code == Code.DATA_MISSING else "invalid"
                row["problem"] = exc.message
        rows.append(row)
    return rows


def _table(folder: Path, rows: list[dict]) -> str:
    width = max(len(r["name"]) for r in rows)
    lines = [f"Model data folder: {folder}"]
    for r in rows:
        lines.append(f"  {r['name']:<{width}}  {r['status']:<8} {r['purpose']}")
        if r["status"] == "optional":
            lines.append(f"  {'':<{width}}  get it:  {r['source']}")
            lines.append(f"  {'':<{width}}  put it:  {r['path']}")
        elif r["status"] != "found":
            lines.append(f"  {'':<{width}}  problem: {r['problem']}")
            lines.append(f"  {'':<{width}}  get it:  {r['source']}")
            lines.append(f"  {'':<{width}}  put it:  {r['path']}")
    return "\n".join(lines)


def execute(args, reporter):
    from backend.synthetic import is_synthetic

    folder = datafiles.resolve_data_dir(args.data_dir)
    reporter.stage("check", f"Checking model data in {folder}")
    rows = check_folder(folder)
    reporter.log(_table(folder, rows))
    bad = [r for r in rows if r["status"] not in ("found", "optional")]
    if bad:
        missing = [r for r in bad if r["status"] == "missing"]
        code = Code.DATA_MISSING if missing else Code.DATA_INVALID
        parts = [f"{r['name']} ({r['status']}: {r['problem']})" for r in bad]
        where = "; ".join(f"{r['name']}: {r['source']} -> {r['path']}" for r in bad)
        raise BackendError(code, f"model data in {folder} is not complete: " + "; ".join(parts),
                           f"Get each file and put it in place: {where}")
    if is_synthetic(folder):
        reporter.warning("SYNTHETIC_DATA", f"{folder} holds SYNTHETIC model data (random weights, made-up "
                                           "body): any output made from it is meaningless",
                         "Install the real TCMR base data and SMPL model for real results.")
    files = [{k: r[k] for k in ("name", "path", "status")} for r in rows]
    return folder, {"files": files}
