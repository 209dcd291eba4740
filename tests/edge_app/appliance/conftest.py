"""Shared set-up for the daemon's tests: a real, empty library over the tiny bundle."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edge_app.settings import Settings


def empty_library(tmp_path: Path, bundle: Path, **extra: Any) -> Settings:
    """Settings over ``bundle`` (ONNX Runtime) whose library folder exists and is empty."""
    settings = Settings(
        data_dir=tmp_path / "data", bundle_dir=bundle, backend_prefer="onnxruntime", **extra
    )
    settings.library_dir.mkdir(parents=True)
    return settings
