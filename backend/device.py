"""Device choice: `auto` (CUDA when usable, else CPU), `cpu`, `cuda`."""

from __future__ import annotations

from backend.errors import BackendError, Code


def resolve_device(choice: str):
    import torch

    if choice == "cpu":
        return torch.device("cpu")
    cuda_ok = torch.cuda.is_available()
    if choice == "cuda":
        if not cuda_ok:
            raise BackendError(
                Code.CUDA_UNAVAILABLE,
                f"--device cuda was asked for, but this torch ({torch.__version__}) sees no usable CUDA GPU",
                "Use --device cpu (or auto), or install a CUDA build of torch that matches your driver.")
        return torch.device("cuda")
    if choice != "auto":
        raise BackendError(Code.BAD_ARGUMENT, f"unknown device '{choice}'", "Use auto, cpu or cuda.")
    return torch.device("cuda" if cuda_ok else "cpu")
