"""What the CPU runs natively: bf16 and integer dot-product (VNNI) instructions.

Linux: the `flags` line of /proc/cpuinfo (x86) or `Features` (arm64); macOS: `sysctl
hw.optional.*`; elsewhere only torch's own view (`torch.backends.cpu.get_cpu_capability()`,
e.g. "AVX2", "AVX512"), which does not say whether bf16 is native. Pure stdlib apart from that
optional torch call; results are cached per process.
"""

from __future__ import annotations

import functools
import platform
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

BF16_FLAGS = ("avx512_bf16", "amx_bf16", "bf16")  # x86 AVX-512 BF16 / AMX; arm64 "bf16" (FEAT_BF16)
VNNI_FLAGS = ("avx512_vnni", "avx_vnni", "amx_int8", "asimddp")  # asimddp: arm64 SDOT/UDOT


@dataclass(frozen=True)
class CpuFeatures:
    """model: the CPU's name; flags: lower-case feature names; torch_capability: e.g. "AVX2"."""

    model: str
    flags: frozenset[str]
    torch_capability: str

    @property
    def bf16(self) -> bool:
        return any(f in self.flags for f in BF16_FLAGS)

    @property
    def vnni(self) -> bool:
        return any(f in self.flags for f in VNNI_FLAGS)

    def bf16_reason(self) -> str:
        """Why bf16 is (not) offered, one sentence for a warning or the log."""
        if self.bf16:
            found = ", ".join(f for f in BF16_FLAGS if f in self.flags)
            return f"{self.model} has native bf16 ({found})"
        return (f"{self.model} has no native bf16 instructions (none of {', '.join(BF16_FLAGS)} in its "
                f"flags; torch capability {self.torch_capability}): bf16 would be emulated and slower "
                "than fp32")


def parse_cpuinfo(text: str) -> tuple[str, frozenset[str]]:
    """The text of /proc/cpuinfo -> (model name, flags of the first processor)."""
    model, flags = "unknown CPU", frozenset()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip().lower()
        if key in ("model name", "cpu model", "hardware") and model == "unknown CPU":
            model = value.strip() or model
        elif key in ("flags", "features") and not flags:
            flags = frozenset(value.lower().split())
    return model, flags


def _macos() -> tuple[str, frozenset[str]]:
    def sysctl(name: str) -> str:
        try:
            return subprocess.run(["sysctl", "-n", name], capture_output=True, text=True,
                                  timeout=5).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""

    flags = set()
    if sysctl("hw.optional.arm.FEAT_BF16") == "1":
        flags.add("bf16")
    if sysctl("hw.optional.arm.FEAT_DotProd") == "1":
        flags.add("asimddp")
    return sysctl("machdep.cpu.brand_string") or platform.processor() or "unknown CPU", frozenset(flags)


def _torch_capability() -> str:
    try:
        import torch

        return str(torch.backends.cpu.get_cpu_capability())
    except (ImportError, AttributeError, RuntimeError):
        return "unknown"


@functools.lru_cache(maxsize=1)
def detect() -> CpuFeatures:
    """This machine's CPU features (cached)."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        model, flags = parse_cpuinfo(cpuinfo.read_text(errors="replace"))
    elif sys.platform == "darwin":
        model, flags = _macos()
    else:
        model, flags = platform.processor() or "unknown CPU", frozenset()
    return CpuFeatures(model=model, flags=flags, torch_capability=_torch_capability())
