"""Session fixtures that build real things once per run.

Bundles go through the real builder (export -> parity -> convert -> manifest) and are
cached under `.cache/test-bundles/<key>` where the key hashes the builder's sources, so a
fresh clone builds each bundle exactly once and a developer's re-run reuses it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from build_engines.shapes import ShapeSpec

REPO = Path(__file__).resolve().parents[1]
CACHE = REPO / ".cache" / "test-bundles"
ARTIFACTS = REPO / "test-artifacts"


def _source_key() -> str:
    """Hash of everything that changes what the builder writes."""
    h = hashlib.sha256()
    roots = [REPO / "build_engines", REPO / "engines" / "manifest.py"]
    files = sorted(p for r in roots for p in ([r] if r.is_file() else r.rglob("*")) if p.is_file())
    for p in files:
        if "__pycache__" in p.parts or p.parent.name == "pack":  # the packer writes no bundle
            continue
        h.update(str(p.relative_to(REPO)).encode())
        h.update(p.read_bytes())
    return h.hexdigest()[:16]


def _cached_bundle(name: str, tag: str | None = None, **kwargs: object) -> Path:
    """Build model `name` once per builder version; `tag` names a variant's cache folder."""
    from build_engines.api import build_bundle  # torch only where a bundle is built

    out = CACHE / f"{tag or name}-{_source_key()}"
    if (out / "manifest.json").is_file():
        return out
    # A private build folder per process: concurrent runs never share a half-built bundle.
    tmp = out.with_name(f"{out.name}.partial-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    build_bundle(name, tmp, **kwargs)  # type: ignore[arg-type]
    try:
        tmp.replace(out)
    except OSError:  # another run finished the same bundle first: use theirs
        if not (out / "manifest.json").is_file():
            raise
        shutil.rmtree(tmp, ignore_errors=True)
    return out


@pytest.fixture(scope="session")
def tiny_bundle() -> Path:
    """Seeded random tiny CLIP: ONNX + OpenVINO fp32 (plumbing and parity)."""
    return _cached_bundle("tiny", targets=("onnx", "openvino"), precisions=("fp32",))


@pytest.fixture(scope="session")
def precisions_bundle() -> Path:
    """The tiny CLIP with every CPU precision: ORT fp32, OpenVINO fp32 (+bf16 hint), int8, int8w."""
    return _cached_bundle(
        "tiny",
        tag="tiny-precisions",
        targets=("onnx", "openvino"),
        precisions=("fp32", "int8", "int8w"),
        min_parity={"int8": 0.9},  # random weights quantise poorly (see test_cli_bundle)
    )


@pytest.fixture(scope="session")
def ocr_bundle(tiny_bundle: Path) -> Path:
    """The tiny CLIP bundle plus the real PP-OCR models (rapidocr wheel), ONNX + OpenVINO."""
    from build_engines.ocr_models import add_ocr

    out = CACHE / f"tiny-ocr-{_source_key()}"
    if (out / "manifest.json").is_file():
        return out
    tmp = out.with_name(f"{out.name}.partial-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(tiny_bundle, tmp)
    add_ocr(tmp)
    try:
        tmp.replace(out)
    except OSError:  # another run finished it first
        if not (out / "manifest.json").is_file():
            raise
        shutil.rmtree(tmp, ignore_errors=True)
    return out


@pytest.fixture(scope="session")
def faces_bundle(tiny_bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny CLIP bundle plus dlib's face models (face_recognition_models sdist), copied."""
    pytest.importorskip("dlib", reason="the `faces` extra (dlib-bin) is not installed")
    from build_engines.face_models import add_faces

    out = tmp_path_factory.mktemp("faces-bundle") / "bundle"
    shutil.copytree(tiny_bundle, out)
    add_faces(out)
    return out


@pytest.fixture(scope="session")
def toy_bundle() -> Path:
    """The trained toy-shapes CLIP: understands 'a red circle' and the like."""
    return _cached_bundle("toy-shapes", targets=("onnx", "openvino"), precisions=("fp32",))


@pytest.fixture(scope="session")
def bilingual_bundle() -> Path:
    """toy-shapes-bilingual (Chinese-CLIP classes, WordPiece): "红色的圆形" finds red circles."""
    return _cached_bundle(
        "toy-shapes-bilingual", targets=("onnx", "openvino"), precisions=("fp32",)
    )


@pytest.fixture(scope="session")
def shapes_photos(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[Path, ShapeSpec]]:
    """A folder of real JPEGs of coloured shapes, with the spec each was drawn from."""
    from build_engines.shapes import write_folder

    root = tmp_path_factory.mktemp("shapes_photos")
    return write_folder(root, n=48, seed=1234, size=(256, 256), fmt="jpg")


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """Where tests leave screenshots and reports for a person to look at."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
