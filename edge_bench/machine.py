"""What machine a benchmark ran on.

Figures without the machine behind them cannot be compared, so every JSON report
embeds this block: CPU model and flags that matter for inference (AVX-512, VNNI,
BF16/AMX), cores, memory, GPU (if any) and the versions of every runtime involved.
"""

from __future__ import annotations

import importlib
import os
import platform
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil

LIBRARIES = (
    "numpy",
    "torch",
    "onnxruntime",
    "openvino",
    "nncf",
    "faiss",
    "transformers",
    "tensorrt",
    "PIL",
)
INTERESTING_FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16", "amx_int8")


def cpu_model() -> str:
    """The marketing name from /proc/cpuinfo (platform.processor() is often empty)."""
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_flags() -> list[str]:
    """The subset of CPU flags that decide which kernels OpenVINO/ORT can use."""
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8")
    except OSError:
        return []
    for line in text.splitlines():
        if line.startswith("flags"):
            flags = set(line.split(":", 1)[1].split())
            return [f for f in INTERESTING_FLAGS if f in flags]
    return []


def library_versions() -> dict[str, str]:
    """Versions of the runtimes present; absent ones read 'not installed'.

    Importing torch costs seconds, so a library already imported is read from
    `sys.modules` and the rest are found via package metadata where possible.
    """
    from importlib import metadata

    dist_names = {"PIL": "pillow", "faiss": "faiss-cpu"}
    out: dict[str, str] = {}
    for name in LIBRARIES:
        try:
            out[name] = metadata.version(dist_names.get(name, name))
            continue
        except metadata.PackageNotFoundError:
            pass
        out[name] = _imported_version(name)
    return out


def _imported_version(name: str) -> str:
    """Fallback for modules without dist metadata; a namespace-only stub is 'not installed'.

    tensorrt-stubs leaves an importable namespace package `tensorrt` with no code:
    reporting it as a version would claim TensorRT ran here.
    """
    try:
        mod = importlib.import_module(name)
    except Exception:  # noqa: BLE001 - any import failure means "not usable here"
        return "not installed"
    if getattr(mod, "__file__", None) is None:
        return "not installed (type stubs only)"
    return str(getattr(mod, "__version__", "unknown"))


def gpu_info() -> list[dict[str, str]]:
    """GPUs as nvidia-smi reports them; empty where there is none (this CPU box)."""
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return []
    try:
        proc = subprocess.run(
            [exe, "--query-gpu=name,memory.total,driver_version", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return []
    gpus = []
    for line in proc.stdout.strip().splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) == 3:
            gpus.append({"name": parts[0], "memory": parts[1], "driver": parts[2]})
    return gpus


def machine_info() -> dict[str, Any]:
    """The block embedded in every JSON report."""
    vm = psutil.virtual_memory()
    return {
        "hostname": platform.node(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu_model": cpu_model(),
        "cpu_flags": cpu_flags(),
        "logical_cores": psutil.cpu_count(logical=True) or 0,
        "physical_cores": psutil.cpu_count(logical=False) or 0,
        "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 0,
        "memory_gb": round(vm.total / 2**30, 1),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "gpus": gpu_info(),
        "libraries": library_versions(),
        "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
    }
