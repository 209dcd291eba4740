"""The runtime must never import torch: the appliance does not ship it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_engines_import_without_torch() -> None:
    code = (
        "import engines, engines.clip_encoder, engines.onnx_backend, engines.openvino_backend, "
        "engines.tensorrt_backend, engines.registry, engines.cuda_memory; import sys; "
        "assert 'torch' not in sys.modules, 'torch was imported'; "
        "assert 'onnxruntime' not in sys.modules and 'openvino' not in sys.modules, 'eager backend import'"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
