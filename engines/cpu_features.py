"""Which fast CPU instructions this machine has, read once from /proc/cpuinfo.

The default precision depends on it: int8 only pays off with VNNI/AMX dot products,
bf16 only with native BF16 (issue 17 measured 4.1x and 2.3x over fp32 with them, little
without). Flags are plain data so a test can inject any machine's flags.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

CPUINFO = Path("/proc/cpuinfo")
INT8_FLAGS = ("amx_int8", "avx512_vnni", "avx_vnni")
BF16_FLAGS = ("amx_bf16", "avx512_bf16")
_SHOWN = ("avx2", "avx512f", *INT8_FLAGS, *BF16_FLAGS, "asimddp", "i8mm", "bf16")


@dataclass(frozen=True)
class CpuFeatures:
    """The CPU's feature flags (x86 `flags` or ARM `Features` line)."""

    flags: frozenset[str]

    @classmethod
    def from_flags(cls, flags: Iterable[str]) -> CpuFeatures:
        return cls(frozenset(f.strip().lower() for f in flags if f.strip()))

    @classmethod
    def detect(cls, cpuinfo: Path = CPUINFO) -> CpuFeatures:
        """Flags of the first CPU listed; empty (nothing fast assumed) if unreadable."""
        try:
            text = cpuinfo.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return cls(frozenset())
        for line in text.splitlines():
            key, sep, value = line.partition(":")
            if sep and key.strip().lower() in ("flags", "features"):
                return cls.from_flags(value.split())
        return cls(frozenset())

    @property
    def int8_fast(self) -> bool:
        """VNNI or AMX: int8 matmuls run several times faster than fp32."""
        return any(f in self.flags for f in INT8_FLAGS)

    @property
    def bf16_fast(self) -> bool:
        """Native BF16 (AVX512-BF16 or AMX): OpenVINO's bf16 hint pays off."""
        return any(f in self.flags for f in BF16_FLAGS)

    def summary(self) -> str:
        """The flags that matter for inference speed, for logs and benchmark reports."""
        shown = [f for f in _SHOWN if f in self.flags]
        return " ".join(shown) if shown else "(no avx2/avx512/vnni/bf16 flags)"
