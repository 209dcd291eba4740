"""Session fixtures: hand-made real bundles (see `engines_testkit`)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from engines.manifest import BatchProfile
from tests.engines.engines_testkit import artifact, default_artifacts, write_ir, write_manifest


@pytest.fixture(scope="session")
def engine_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """ONNX + OpenVINO fp32 for both towers, batch profile max 4 (so chunking happens)."""
    root = tmp_path_factory.mktemp("engine_bundle")
    write_manifest(root, default_artifacts(root, BatchProfile(min=1, opt=2, max=4)))
    return root


@pytest.fixture(scope="session")
def multi_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Adds an int8-labelled OpenVINO image IR and a TensorRT plan (this host has no TRT)."""
    root = tmp_path_factory.mktemp("multi_bundle")
    arts = default_artifacts(root, BatchProfile())
    write_ir(root / "image_fp32.onnx", root / "image_int8.xml")
    arts.append(artifact(root, "image", "openvino", "int8", ["image_int8.xml", "image_int8.bin"]))
    for tower in ("image", "text"):
        (root / f"{tower}_fp16.plan").write_bytes(b"not a real plan: TensorRT is absent here")
        arts.append(
            artifact(
                root,
                tower,
                "tensorrt",
                "fp16",
                [f"{tower}_fp16.plan"],
                versions={"tensorrt": "10.3.0"},
                device={"compute_capability": "8.7"},
            )
        )
    write_manifest(root, arts)
    return root


@pytest.fixture
def bundle_copy(engine_bundle: Path, tmp_path: Path) -> Path:
    """A private copy a test may damage."""
    dst = tmp_path / "bundle"
    shutil.copytree(engine_bundle, dst)
    return dst
