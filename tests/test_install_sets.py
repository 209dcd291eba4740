"""The appliance installs without torch: pip resolves each runtime install set (against the
real indexes, `--dry-run --ignore-installed --report`) and no torch, torchvision, triton or
nvidia-* package may be in it, so the CUDA stack cannot creep back through a dependency."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from build_engines.wheelhouse import forbidden, normalise

REPO = Path(__file__).resolve().parents[1]
RUNTIME = {"edge-photo-search", "numpy", "faiss-cpu", "pillow", "flask", "cheroot", "cryptography"}


def _resolved(report: Path) -> set[str]:
    data = json.loads(report.read_text(encoding="utf-8"))
    return {normalise(item["metadata"]["name"]) for item in data["install"]}


def _run(argv: list[str]) -> None:
    env = {**os.environ, "PYTHON": sys.executable}
    proc = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]


def test_the_check_names_the_cuda_stack() -> None:
    names = ["numpy", "Torch", "torchvision", "triton", "nvidia_cudnn_cu12", "torchmetrics"]
    assert forbidden(names) == ["nvidia-cudnn-cu12", "torch", "torchvision", "triton"]


@pytest.mark.slow
def test_what_scripts_demo_installs_has_no_torch(tmp_path: Path) -> None:
    """The very pip command `scripts/bootstrap.sh --app` (scripts/demo) runs."""
    report = tmp_path / "demo.json"
    _run(["bash", "scripts/bootstrap.sh", "--app", "--report", str(report)])
    names = _resolved(report)
    assert RUNTIME | {"openvino"} <= names
    assert forbidden(names) == []


@pytest.mark.slow
def test_appliance_extras_resolve_without_torch(tmp_path: Path) -> None:
    """`pip install .[openvino,onnx,ocr]`: every runtime extra at once (a superset of each
    one's requirements, resolved once to keep CI short)."""
    report = tmp_path / "extras.json"
    pip = [sys.executable, "-m", "pip", "install", "-q", "--dry-run", "--ignore-installed"]
    _run([*pip, "--report", str(report), ".[openvino,onnx,ocr]"])
    names = _resolved(report)
    assert RUNTIME | {"openvino", "onnxruntime", "opencv-python-headless", "pyclipper"} <= names
    assert forbidden(names) == []
