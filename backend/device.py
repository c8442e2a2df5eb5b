"""Device choice: `auto` (CUDA when usable, else Apple's MPS when usable, else CPU), `cpu`, `cuda`,
`mps`. MPS (Apple Silicon GPUs through Metal) is written from torch's documented
`torch.backends.mps.is_available()` and has not been run by the project (no Mac in CI)."""

from __future__ import annotations

from backend.errors import BackendError, Code

DEVICES = ("auto", "cpu", "cuda", "mps")


def _mps_available(torch) -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def resolve_device(choice: str):
    import torch

    if choice not in DEVICES:
        raise BackendError(Code.BAD_ARGUMENT, f"unknown device '{choice}'",
                           f"Use one of {', '.join(DEVICES)}.")
    if choice == "cpu":
        return torch.device("cpu")
    cuda_ok = torch.cuda.is_available()
    if choice == "cuda" and not cuda_ok:
        raise BackendError(
            Code.CUDA_UNAVAILABLE,
            f"--device cuda was asked for, but this torch ({torch.__version__}) sees no usable CUDA GPU",
            "Use --device cpu (or auto), or install a CUDA build of torch that matches your driver.")
    if choice == "mps" and not _mps_available(torch):
        raise BackendError(
            Code.MPS_UNAVAILABLE,
            f"--device mps was asked for, but this torch ({torch.__version__}) has no usable MPS device",
            "MPS needs an Apple Silicon Mac with macOS 12.3 or later and a torch built with MPS; "
            "use --device cpu (or auto).")
    if choice in ("cuda", "mps"):
        return torch.device(choice)
    if cuda_ok:
        return torch.device("cuda")
    return torch.device("mps" if _mps_available(torch) else "cpu")
