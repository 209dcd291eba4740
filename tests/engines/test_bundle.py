"""Bundle loading: every listed file is checked, and failures say what to rebuild."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engines.bundle import load_bundle, plan_incompatibility, verify_files
from engines.errors import BundleError, BundleSchemaError, ChecksumError, IncompatibleArtifactError
from engines.manifest import Artifact, BatchProfile


def test_loads_and_resolves_paths(engine_bundle: Path) -> None:
    bundle = load_bundle(engine_bundle)
    assert bundle.manifest.embedding_dim == 8
    onnx = bundle.manifest.artifacts[0].primary
    assert bundle.path(onnx) == engine_bundle / onnx.path
    assert bundle.path(onnx).is_file()


def test_missing_artifact_names_file_and_rebuild(bundle_copy: Path) -> None:
    (bundle_copy / "text_fp32.bin").unlink()
    with pytest.raises(BundleError, match=r"text_fp32\.bin is missing.*edge-build export"):
        load_bundle(bundle_copy)


def test_missing_tokenizer_is_reported(bundle_copy: Path) -> None:
    (bundle_copy / "tokenizer" / "bpe_simple_vocab_16e6.txt.gz").unlink()
    with pytest.raises(BundleError, match="bpe_simple_vocab_16e6.txt.gz is missing"):
        load_bundle(bundle_copy)


def _flip_byte(path: Path) -> None:
    """Corrupt one byte near the end, keeping the size (only the checksum can tell)."""
    data = bytearray(path.read_bytes())
    data[-5] ^= 0xFF
    path.write_bytes(bytes(data))


def test_flipped_byte_fails_checksum(bundle_copy: Path) -> None:
    _flip_byte(bundle_copy / "image_fp32.onnx")
    with pytest.raises(
        ChecksumError, match=r"artifact image/onnxruntime/fp32.*image_fp32\.onnx sha256"
    ):
        load_bundle(bundle_copy)


def test_truncated_file_fails_size_check(bundle_copy: Path) -> None:
    path = bundle_copy / "image_fp32.bin"
    path.write_bytes(path.read_bytes()[:-4])
    with pytest.raises(ChecksumError, match="truncated"):
        load_bundle(bundle_copy)


def test_verify_false_skips_checksums_but_verify_files_still_catches(bundle_copy: Path) -> None:
    _flip_byte(bundle_copy / "image_fp32.onnx")
    bundle = load_bundle(bundle_copy, verify=False)
    with pytest.raises(ChecksumError):
        verify_files(bundle)


def test_newer_schema_is_refused(bundle_copy: Path) -> None:
    path = bundle_copy / "manifest.json"
    data = json.loads(path.read_text())
    data["schema_version"] = 99
    path.write_text(json.dumps(data))
    with pytest.raises(BundleSchemaError, match="newer than this runtime"):
        load_bundle(bundle_copy)


def test_path_escaping_the_bundle_is_refused(bundle_copy: Path) -> None:
    path = bundle_copy / "manifest.json"
    data = json.loads(path.read_text())
    data["files"][0]["path"] = "../outside.txt"
    path.write_text(json.dumps(data))
    with pytest.raises(BundleError, match="outside the bundle"):
        load_bundle(bundle_copy)


def test_not_a_bundle(tmp_path: Path) -> None:
    with pytest.raises(BundleError, match="not an engine bundle"):
        load_bundle(tmp_path)


def _plan(versions: dict[str, str], device: dict[str, str]) -> Artifact:
    return Artifact("image", "tensorrt", "fp16", (), (), (), BatchProfile(), versions, device)


@pytest.mark.parametrize(
    ("built", "cc", "runtime", "here", "problem"),
    [
        ("10.3.0", "8.7", "10.3.0.26", "8.7", None),
        ("8.6.2.3", "8.7", "8.6.2", "8.7", None),
        ("10.3.0", "8.7", "10.4.0", "8.7", "TensorRT 10.3.0"),
        ("8.6.1", "8.7", "10.3.0", "8.7", "TensorRT 8.6.1"),
        ("10.3.0", "8.7", "10.3.0", "8.6", "compute capability 8.7"),
        ("10.3.0", "8.9", "10.3.0", "8.6", "compute capability 8.9"),
        ("ten", "8.7", "10.3.0", "8.7", "unparseable"),
    ],
)
def test_plan_compatibility(
    built: str, cc: str, runtime: str, here: str, problem: str | None
) -> None:
    reason = plan_incompatibility(
        _plan({"tensorrt": built}, {"compute_capability": cc}), runtime, here
    )
    if problem is None:
        assert reason is None
    else:
        assert reason is not None and problem in reason


def test_plan_without_recorded_versions_is_incompatible() -> None:
    assert "does not record" in str(plan_incompatibility(_plan({}, {}), "10.3.0", "8.7"))


def test_check_plan_compatible_raises_with_rebuild_hint(tmp_path: Path) -> None:
    from engines.bundle import check_plan_compatible
    from engines.manifest import FileEntry

    art = _plan({"tensorrt": "8.6.2"}, {"compute_capability": "8.7"})
    art = Artifact(
        art.tower,
        art.backend,
        art.precision,
        (FileEntry("image_fp16.plan", "0", 0),),
        (),
        (),
        art.batch,
        art.versions,
        art.device,
    )
    with pytest.raises(IncompatibleArtifactError, match=r"image_fp16\.plan.*edge-build export"):
        check_plan_compatible(art, "10.3.0", "8.7", tmp_path)
