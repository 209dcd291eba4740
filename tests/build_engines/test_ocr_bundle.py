"""OCR models in the bundle: sources, manifest records, parity, `edge-build verify`/`add-ocr`."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from build_engines.cli import main as edge_build
from build_engines.ocr_models import find_source, verify_ocr
from build_engines.ocr_sources import DEFAULT_FAMILY, FAMILIES
from engines.errors import OcrUnavailableError
from engines.manifest import Manifest

pytestmark = pytest.mark.slow


def test_manifest_records_source_licence_and_dictionary(ocr_bundle: Path) -> None:
    ocr = Manifest.load(ocr_bundle).ocr
    assert ocr is not None
    assert ocr.source.startswith("rapidocr 3.10.0, rapidocr-onnxruntime 1.4.4 (PP-OCRv4 det, ")
    assert ocr.family == "PP-OCRv4 det + PP-OCRv6 rec" == FAMILIES[DEFAULT_FAMILY].name
    assert ocr.det_side == FAMILIES[DEFAULT_FAMILY].det_side
    assert ocr.license == "Apache-2.0"
    keys = (ocr_bundle / ocr.dictionary.path).read_text(encoding="utf-8").splitlines()
    assert len(keys) == 18708 and "银" in keys and "A" in keys and "é" in keys
    rec = [a for a in ocr.artifacts if a.tower == "ocr_rec"][0]
    assert rec.outputs[0].shape[-1] == len(keys) + 2  # CTC blank + space


def test_every_converted_ocr_artifact_has_parity_vs_onnxruntime(ocr_bundle: Path) -> None:
    ocr = Manifest.load(ocr_bundle).ocr
    assert ocr is not None
    keys = sorted(a.key for a in ocr.artifacts)
    assert keys == sorted(f"{t}/{b}/fp32" for t in ("ocr_det", "ocr_cls", "ocr_rec")
                          for b in ("onnxruntime", "openvino"))  # fmt: skip
    for art in ocr.artifacts:
        if art.backend == "onnxruntime":
            assert art.parity is None  # the reference itself
            continue
        assert art.parity is not None and art.parity.reference == "onnxruntime-fp32"
        assert art.parity.min_cosine >= 0.999 and art.parity.samples >= 4
        assert ocr.checks[art.key]["argmax_agreement"] >= 0.99


def test_adding_ocr_keeps_the_bundle_id_and_clip_artifacts(
    tiny_bundle: Path, ocr_bundle: Path
) -> None:
    plain, with_ocr = Manifest.load(tiny_bundle), Manifest.load(ocr_bundle)
    assert plain.ocr is None
    assert with_ocr.bundle_id == plain.bundle_id  # no re-embedding when OCR is added
    assert with_ocr.artifacts == plain.artifacts


def test_verify_remeasures_ocr_parity(ocr_bundle: Path, capsys: pytest.CaptureFixture[str]) -> None:
    reports = verify_ocr(ocr_bundle)
    assert sorted(r.key for r in reports) == [
        f"{t}/openvino/fp32" for t in ("ocr_cls", "ocr_det", "ocr_rec")
    ]
    assert all(r.passed for r in reports)
    assert edge_build(["verify", str(ocr_bundle)]) == 0
    out = capsys.readouterr().out
    assert "ocr_rec/openvino/fp32            OK" in out


def test_verify_fails_on_a_damaged_ocr_ir(
    ocr_bundle: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy = tmp_path / "bundle"
    shutil.copytree(ocr_bundle, copy)
    weights = copy / "ocr" / "ocr_det_fp32.bin"
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(OcrUnavailableError, match="ocr_det_fp32.bin sha256"):
        verify_ocr(copy)
    assert edge_build(["verify", str(copy)]) == 2
    assert "ocr_det_fp32.bin" in capsys.readouterr().err


def test_add_ocr_from_a_local_folder(
    tiny_bundle: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wheel = find_source(None)
    folder = tmp_path / "ppocr"
    folder.mkdir()
    for path in wheel.models.values():
        shutil.copy(path, folder / path.name)
    (folder / "ppocr_keys_v1.txt").write_text(wheel.dictionary, encoding="utf-8")
    (folder / "LICENSE").write_text("Apache-2.0 (PaddleOCR)\n", encoding="utf-8")
    bundle = tmp_path / "bundle"
    shutil.copytree(tiny_bundle, bundle)
    assert edge_build(["add-ocr", str(bundle), "--from", str(folder), "--targets", "onnx"]) == 0
    ocr = Manifest.load(bundle).ocr
    assert ocr is not None and ocr.source == f"folder:{folder}"
    assert ocr.license == "Apache-2.0 (PaddleOCR)"
    assert {a.backend for a in ocr.artifacts} == {"onnxruntime"}
    assert "ocr_det/onnxruntime/fp32" in capsys.readouterr().out


def test_a_folder_without_models_is_a_clear_error(
    tiny_bundle: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bundle = tmp_path / "bundle"
    shutil.copytree(tiny_bundle, bundle)
    assert edge_build(["add-ocr", str(bundle), "--from", str(tmp_path / "empty")]) == 2
    assert "expected exactly one *det*.onnx" in capsys.readouterr().err
    assert Manifest.load(bundle).ocr is None  # the bundle is unchanged


def test_export_with_ocr_flag(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "bundle"
    assert (
        edge_build(["export", "--model", "tiny", "--out", str(out), "--targets", "onnx", "--ocr"])
        == 0
    )
    manifest = Manifest.load(out)
    assert manifest.ocr is not None and {a.tower for a in manifest.ocr.artifacts} == {
        "ocr_det", "ocr_cls", "ocr_rec"
    }  # fmt: skip
    assert "OCR: PP-OCRv4 det + PP-OCRv6 rec, rapidocr 3.10.0" in capsys.readouterr().out


def test_pp_ocrv6_bundle_then_a_failed_parity_gate_keeps_it(
    ocr_bundle: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--ocr-models v6` (PP-OCRv6 detection too) passes the gates on OpenVINO and reads
    drawn words; then PP-OCRv4's fp16-compressed recognition weights, which flip some
    characters, are refused and the bundle keeps its PP-OCRv6 models."""
    from build_engines.ocr_samples import Word, background, draw_words
    from engines.ocr import open_ocr

    copy = tmp_path / "bundle"
    shutil.copytree(ocr_bundle, copy)
    assert edge_build(["add-ocr", str(copy), "--ocr-models", "v6"]) == 0
    before = Manifest.load(copy)
    assert before.ocr is not None and before.ocr.family == "PP-OCRv6"
    converted = [a for a in before.ocr.artifacts if a.backend == "openvino"]
    assert len(converted) == 3 and all(a.parity and a.parity.min_cosine >= 0.999 for a in converted)
    photo = draw_words(background("rocket"), [Word("Café 4711", size=40, xy=(60, 300))])
    with open_ocr(copy, prefer="openvino") as engine:
        assert [line.text for line in engine.read(photo).lines] == ["Café 4711"]
    args = ["add-ocr", str(copy), "--ocr-models", "v4", "--precision", "fp32,fp16"]
    assert edge_build(args) == 2
    assert "ocr_rec/openvino/fp16: min cosine" in capsys.readouterr().err
    assert Manifest.load(copy) == before and not (copy / "ocr.partial").exists()
    assert all(r.passed for r in verify_ocr(copy))
    with open_ocr(copy) as engine:
        assert engine.rec.backend == "openvino"


def test_an_existing_pp_ocrv4_bundle_keeps_working(
    tiny_bundle: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """v4 stays buildable; a v4 bundle written before `family`/`det_side` existed (the keys
    removed here) is read as PP-OCRv4 at 960 px and still reads drawn words."""
    import json

    from build_engines.ocr_samples import Word, background, draw_words
    from engines.ocr import open_ocr

    bundle = tmp_path / "bundle"
    shutil.copytree(tiny_bundle, bundle)
    args = ["add-ocr", str(bundle), "--ocr-models", "v4", "--targets", "onnx"]
    assert edge_build(args) == 0
    assert "OCR: PP-OCRv4, rapidocr-onnxruntime 1.4.4" in capsys.readouterr().out
    raw = json.loads((bundle / "manifest.json").read_text(encoding="utf-8"))
    del raw["ocr"]["family"], raw["ocr"]["det_side"]
    (bundle / "manifest.json").write_text(json.dumps(raw), encoding="utf-8")
    ocr = Manifest.load(bundle).ocr
    assert ocr is not None and (ocr.family, ocr.det_side) == ("PP-OCRv4", 960)
    keys = (bundle / ocr.dictionary.path).read_text(encoding="utf-8").splitlines()
    assert len(keys) == 6623
    photo = draw_words(background("coffee"), [Word("WAREHOUSE", size=44, xy=(40, 40))])
    with open_ocr(bundle) as engine:
        assert engine.params.max_side == 960
        assert [line.text for line in engine.read(photo).lines] == ["WAREHOUSE"]


def test_an_unknown_model_family_is_a_clear_error() -> None:
    from build_engines.errors import BuildError

    with pytest.raises(BuildError, match="unknown OCR model family 'v5'"):
        find_source(None, "v5")
