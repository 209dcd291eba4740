"""CPU flags from a real cpuinfo-format file decide which precisions are fast here."""

from __future__ import annotations

from pathlib import Path

from engines.cpu_features import CpuFeatures

SAPPHIRE = "processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f avx512_vnni avx512_bf16 amx_int8\n"
AVX2_ONLY = (
    "processor\t: 0\nflags\t\t: fpu sse2 avx avx2 fma\n\nprocessor\t: 1\nflags: avx512_vnni\n"
)
ARM = "processor\t: 0\nFeatures\t: fp asimd asimddp i8mm bf16\n"


def _detect(tmp_path: Path, text: str) -> CpuFeatures:
    path = tmp_path / "cpuinfo"
    path.write_text(text, encoding="utf-8")
    return CpuFeatures.detect(path)


def test_vnni_and_bf16_machine(tmp_path: Path) -> None:
    cpu = _detect(tmp_path, SAPPHIRE)
    assert cpu.int8_fast and cpu.bf16_fast
    assert cpu.summary() == "avx2 avx512f amx_int8 avx512_vnni avx512_bf16"


def test_avx2_only_machine_reads_first_cpu(tmp_path: Path) -> None:
    cpu = _detect(tmp_path, AVX2_ONLY)
    assert not cpu.int8_fast and not cpu.bf16_fast
    assert "avx2" in cpu.flags and "avx512_vnni" not in cpu.flags


def test_arm_features_line_is_read_but_no_x86_fast_path(tmp_path: Path) -> None:
    cpu = _detect(tmp_path, ARM)
    assert "asimddp" in cpu.flags
    assert not cpu.int8_fast and not cpu.bf16_fast  # OpenVINO's fast paths are x86 flags


def test_unreadable_cpuinfo_assumes_nothing_fast(tmp_path: Path) -> None:
    cpu = CpuFeatures.detect(tmp_path / "missing")
    assert cpu.flags == frozenset() and not cpu.int8_fast
    assert cpu.summary() == "(no avx2/avx512/vnni/bf16 flags)"
