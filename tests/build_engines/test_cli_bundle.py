"""`edge-build export|verify` end to end on `tiny` and a local transformers directory."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from build_engines.api import build_bundle, verify_bundle
from build_engines.cli import main
from build_engines.errors import ConversionError, ParityError
from build_engines.models.tiny import build_tiny_model
from engines.bundle import load_bundle
from engines.errors import ChecksumError
from engines.manifest import MANIFEST_NAME, SCHEMA_VERSION, BatchProfile, Manifest


@pytest.fixture(scope="module")
def cli_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("cli") / "tiny"
    assert main(["export", "--model", "tiny", "--out", str(out), "--batch", "1,4,16"]) == 0
    return out


def test_export_writes_onnx_and_openvino_fp32_with_parity(cli_bundle: Path) -> None:
    manifest = load_bundle(cli_bundle).manifest  # also re-checks every sha256
    keys = {a.key for a in manifest.artifacts}
    assert keys == {f"{t}/{b}/fp32" for t in ("image", "text") for b in ("onnxruntime", "openvino")}
    for a in manifest.artifacts:
        assert a.parity is not None and a.parity.min_cosine >= 0.999 and a.parity.samples >= 32
        assert a.batch == BatchProfile(1, 4, 16)
        assert a.primary.path == f"{a.tower}_fp32.{'onnx' if a.backend == 'onnxruntime' else 'xml'}"
    for ov in (a for a in manifest.artifacts if a.backend == "openvino"):
        assert [f.path for f in ov.files] == [f"{ov.tower}_fp32.xml", f"{ov.tower}_fp32.bin"]
    assert not (cli_bundle / ".work").exists()


def test_manifest_records_contract_fields(cli_bundle: Path) -> None:
    m = Manifest.load(cli_bundle)
    assert m.model.id == "tiny" and m.embedding_dim == 64 and m.l2_normalized_in_graph
    assert m.text.tokenizer_files == ("tokenizer/bpe_simple_vocab_16e6.txt.gz",)
    assert (cli_bundle / m.text.tokenizer_files[0]).stat().st_size == m.files[0].bytes
    digests = sorted(f.sha256 for a in m.artifacts for f in a.files)
    assert m.bundle_id == "tiny-" + hashlib.sha256("".join(digests).encode()).hexdigest()[:12]
    for tool in ("torch", "onnx", "onnxruntime", "openvino", "nncf", "tensorrt"):
        assert m.builder[f"version.{tool}"]
    assert m.builder["parity.inputs"].startswith("generated:shapes")
    assert m.created_at.endswith("+00:00")
    assert all(e.shape[-1] == 64 for a in m.artifacts for e in a.outputs)


def test_verify_passes_then_detects_tampering(
    cli_bundle: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    reports = verify_bundle(cli_bundle)
    assert len(reports) == 4 and all(r.passed for r in reports)
    assert main(["verify", str(cli_bundle)]) == 0
    copy = tmp_path / "copy"
    shutil.copytree(cli_bundle, copy)
    with (copy / "text_fp32.bin").open("r+b") as f:
        f.seek(100)
        f.write(b"\x00\x01\x02\x03")
    with pytest.raises(ChecksumError, match="text_fp32.bin"):
        verify_bundle(copy)
    capsys.readouterr()
    assert main(["verify", str(copy)]) != 0
    assert "text_fp32.bin" in capsys.readouterr().err


def test_fp16_int8_and_int8w_openvino_report_parity(tmp_path: Path) -> None:
    out = build_bundle(
        "tiny",
        tmp_path / "b",
        targets=("openvino",),
        precisions=("fp16", "int8", "int8w"),
        min_parity={"int8": 0.9},  # random weights quantise poorly: see the README's int8 note
    )
    m = Manifest.load(out)
    by_key = {a.key: a for a in m.artifacts}
    precisions = ("fp16", "int8", "int8w")
    assert set(by_key) == {f"{t}/openvino/{p}" for t in ("image", "text") for p in precisions}
    gates = {"fp16": 0.99, "int8": 0.9, "int8w": 0.995}  # int8w: float compute
    for a in m.artifacts:
        assert a.parity is not None and a.parity.min_cosine >= gates[a.precision]
        assert a.agreement is not None  # what lets engines.open pick it by default
    assert m.builder["calibration.int8"].startswith("generated:shapes")
    assert m.builder["parity_gate.int8"] == "0.9"
    size = {p: by_key[f"image/openvino/{p}"].files[1].bytes for p in precisions}
    assert size["int8"] < size["fp16"] and size["int8w"] < 0.7 * size["fp16"]


def test_strict_int8_gate_fails_and_leaves_no_manifest(tmp_path: Path) -> None:
    out = tmp_path / "b"
    out.mkdir()
    (out / MANIFEST_NAME).write_text("{}")  # a previous build's manifest must not survive
    with pytest.raises(ParityError, match="int8"):
        build_bundle(
            "tiny", out, targets=("openvino",), precisions=("int8",), min_parity={"int8": 0.99999}
        )
    assert not (out / MANIFEST_NAME).exists()


def test_local_hf_dir_through_cli_offline(tmp_path: Path) -> None:
    model_dir = tmp_path / "my-clip"
    build_tiny_model().save_pretrained(model_dir)
    out = tmp_path / "bundle"
    assert main(["export", "--model", str(model_dir), "--out", str(out), "--targets", "onnx"]) == 0
    m = Manifest.load(out)
    assert m.model.id == "my-clip" and m.model.source == f"hf:{model_dir}"
    assert {a.key for a in m.artifacts} == {"image/onnxruntime/fp32", "text/onnxruntime/fp32"}
    assert all(a.parity is not None and a.parity.min_cosine >= 0.999 for a in m.artifacts)


def test_int8_of_a_real_model_requires_calib(tmp_path: Path) -> None:
    model_dir = tmp_path / "my-clip"
    build_tiny_model().save_pretrained(model_dir)
    with pytest.raises(ConversionError, match="--calib"):
        build_bundle(str(model_dir), tmp_path / "b", targets=("openvino",), precisions=("int8",))
    assert not (tmp_path / "b" / "image_fp32.onnx").exists()  # failed before exporting


def test_cli_rejects_unknown_precision(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export", "--model", "tiny", "--out", str(tmp_path), "--precision", "fp8"]) != 0
    assert "fp8" in capsys.readouterr().err


def test_manifest_json_is_plain_json(cli_bundle: Path) -> None:
    data = json.loads((cli_bundle / MANIFEST_NAME).read_text())
    assert data["schema_version"] == SCHEMA_VERSION and data["l2_normalized_in_graph"] is True


def test_export_help_names_every_builtin_model_and_precision(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from build_engines.api import BUILD_PRECISIONS
    from build_engines.models import BUILTINS

    monkeypatch.setenv("COLUMNS", "500")  # argparse would wrap names at their hyphens

    with pytest.raises(SystemExit):
        main(["export", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert all(name in text for name in BUILTINS), text
    assert all(p in text for p in BUILD_PRECISIONS), text
