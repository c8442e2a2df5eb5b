"""torch.distributed for `train`: set up from torchrun's environment, small collective helpers.

`torchrun --nproc_per_node N -m backend train ...` (or `python -m torch.distributed.run`) starts
N processes with RANK, LOCAL_RANK, WORLD_SIZE, MASTER_ADDR and MASTER_PORT set; each joins the
default process group: NCCL when it trains on CUDA (one GPU per process: cuda:LOCAL_RANK), gloo
on the CPU. Without those variables (or WORLD_SIZE=1) training runs in one plain process.
Multi-node runs are the same with torchrun's --nnodes/--node_rank/--rdzv_* options.

Only rank 0 speaks the progress protocol and writes files (`SilentReporter` for the others).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

import torch

from backend.events import Reporter


@dataclass(frozen=True)
class Dist:
    rank: int = 0
    world: int = 1
    local_rank: int = 0
    backend: str = "none"

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world > 1


def env_rank() -> int:
    try:
        return int(os.environ.get("RANK", "0"))
    except ValueError:
        return 0


def env_world() -> int:
    try:
        return int(os.environ.get("WORLD_SIZE", "1"))
    except ValueError:
        return 1


def setup(device: torch.device) -> tuple[Dist, torch.device]:
    """Join the process group when launched by torchrun -> (Dist, this process's device)."""
    world = env_world()
    if world <= 1:
        return Dist(), device
    import torch.distributed as dist

    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if device.type == "cuda":
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
        backend = "nccl"
    else:
        backend = "gloo"
    if not dist.is_initialized():
        dist.init_process_group(backend=backend)
    return Dist(rank=dist.get_rank(), world=dist.get_world_size(), local_rank=local_rank,
                backend=backend), device


def teardown(info: Dist) -> None:
    if info.active:
        import torch.distributed as dist

        if dist.is_initialized():
            dist.destroy_process_group()


def all_sum(info: Dist, values: torch.Tensor) -> torch.Tensor:
    """Sum of `values` over all processes (a copy; `values` itself on one process)."""
    if not info.active:
        return values
    import torch.distributed as dist

    out = values.clone()
    dist.all_reduce(out, op=dist.ReduceOp.SUM)
    return out


def broadcast_float(info: Dist, value: float, device: torch.device) -> float:
    """Rank 0's value on every process."""
    if not info.active:
        return value
    import torch.distributed as dist

    t = torch.tensor([value], dtype=torch.float64, device=device)
    dist.broadcast(t, src=0)
    return float(t.item())


def barrier(info: Dist) -> None:
    if info.active:
        import torch.distributed as dist

        dist.barrier()


class SilentReporter(Reporter):
    """For ranks other than 0: no protocol lines; errors and logs go to stderr with the rank."""

    def __init__(self, rank: int, jsonl: bool) -> None:
        super().__init__(jsonl=jsonl)
        self.rank = rank

    def emit(self, event: str, **fields) -> None:
        if event == "error":
            self.log(f"[rank {self.rank}] error [{fields.get('code')}] {fields.get('message')}")

    def log(self, message: str) -> None:
        sys.stderr.write(f"[rank {self.rank}] {message}\n")
        sys.stderr.flush()

    def _draw_bar(self, *args) -> None:
        return


def reporter_for(reporter: Reporter) -> Reporter:
    """The reporter a process uses: itself on rank 0, a SilentReporter elsewhere."""
    rank = env_rank()
    if env_world() > 1 and rank != 0:
        return SilentReporter(rank, reporter.jsonl)
    return reporter
