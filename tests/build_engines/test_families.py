"""Each encoder family exports, verifies and searches through the runtime.

Small random configs of the real classes (transformers `ChineseCLIPModel`, `SiglipModel`,
open_clip's MobileCLIP with a timm FastViT image tower) saved as checkpoint directories, so
the directory loaders, the tokenizer-as-data path (`hf_tokenizers`, `clip_bpe` at a fixed
context) and the parity gates are exercised in seconds. The full-size `*-random` builds use
the same code with the published geometry (docs/MODELS.md, measured with `edge-bench`).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import engines
from build_engines.api import build_bundle, verify_bundle
from build_engines.errors import ModelLoadError
from build_engines.models import chinese_clip, load_model, siglip
from build_engines.models.open_clip_loader import OpenClipTowers, save_small_mobileclip
from build_engines.models.text_tokenizers import cn_clip_vocab, train_unigram
from build_engines.shapes import ShapeSpec, render
from build_engines.torch_backend import TorchEncoder
from edge_bench.cli import main as bench_main
from engines.bundle import load_bundle

QUERIES = ["红色的圆形", "a red circle", "紅色的圓形 on blue", "", "超长" * 60]


@pytest.fixture(scope="module")
def cn_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("chinese-clip-small")
    chinese_clip.seeded(chinese_clip.small_config()).save_pretrained(path)
    (path / "vocab.txt").write_bytes(cn_clip_vocab().read_bytes())  # OFA-Sys layout
    return path


@pytest.fixture(scope="module")
def siglip_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("siglip-small")
    siglip.seeded(siglip.small_config()).save_pretrained(path)
    train_unigram(path / "tokenizer.json", vocab_size=400)  # no real SigLIP vocab ships
    (path / "tokenizer_config.json").write_text(json.dumps({"pad_token": "<pad>"}), "utf-8")
    return path


def _built(model_dir: Path, out: Path) -> Path:
    return build_bundle(str(model_dir), out, targets=("onnx", "openvino"), precisions=("fp32",))


@pytest.fixture(scope="module")
def cn_bundle(cn_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _built(cn_dir, tmp_path_factory.mktemp("cn-bundle"))


@pytest.fixture(scope="module")
def siglip_bundle(siglip_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _built(siglip_dir, tmp_path_factory.mktemp("siglip-bundle"))


def _images() -> list[Image.Image]:
    specs = [ShapeSpec("circle", "red", "white"), ShapeSpec("square", "blue", "gray", seed=3)]
    return [render(s, (200, 150)) for s in specs]


def _runtime_matches_torch(bundle: Path, model_dir: Path, prefer: str) -> None:
    """Runtime tokenizer + preprocessing + artifact == PyTorch on the same raw inputs."""
    loaded = load_model(str(model_dir))
    torch_enc = TorchEncoder(loaded)
    with engines.open(bundle, prefer=prefer) as enc:
        pixels = enc.preprocessor.batch(_images())
        got_img = enc.encode_images(_images())
        got_txt = enc.encode_text(QUERIES)
        ids = enc.tokenize(QUERIES)
    want_img = torch_enc.encode_pixels(pixels)
    want_txt = torch_enc.encode_tokens(ids)  # full width: trimming must change nothing
    assert np.sum(got_img * want_img, axis=1).min() > 0.999
    assert np.sum(got_txt * want_txt, axis=1).min() > 0.999


def test_chinese_clip_dir_exports_with_wordpiece(cn_bundle: Path, cn_dir: Path) -> None:
    m = load_bundle(cn_bundle).manifest
    assert m.model.family == "hf-chinese-clip"
    assert m.text.tokenizer.kind == "hf_tokenizers" and not m.text.tokenizer.pad_to_context
    assert (m.text.sot_token, m.text.eot_token, m.text.pad_token) == (101, 102, 0)
    assert m.text.context_length == 52 and m.text.tokenizer_files == ("tokenizer/tokenizer.json",)
    assert m.image.resize == "shortest" and m.image.crop_rounding == "floor"
    assert all(a.parity and a.parity.min_cosine >= 0.999 for a in m.artifacts)
    for prefer in ("onnxruntime", "openvino"):
        _runtime_matches_torch(cn_bundle, cn_dir, prefer)


def test_chinese_clip_padding_is_masked(cn_dir: Path) -> None:
    """The [CLS] embedding ignores padding (mask inside the graph): trimming is exact."""
    loaded = load_model(str(cn_dir))
    ids = loaded.tokenizer.runtime(52)(["红色的圆形"])
    enc = TorchEncoder(loaded)
    full, trimmed = enc.encode_tokens(ids), enc.encode_tokens(ids[:, :7])
    assert float(np.sum(full * trimmed)) > 0.99999


def test_siglip_dir_exports_with_fixed_context(siglip_bundle: Path, siglip_dir: Path) -> None:
    m = load_bundle(siglip_bundle).manifest
    assert m.model.family == "hf-siglip" and m.text.tokenizer.pad_to_context
    assert m.image.resize == "squash" and m.image.mean == (0.5, 0.5, 0.5)
    text_inputs = {a.inputs[0].shape for a in m.artifacts if a.tower == "text"}
    assert text_inputs == {(-1, m.text.context_length)}
    for prefer in ("onnxruntime", "openvino"):
        _runtime_matches_torch(siglip_bundle, siglip_dir, prefer)


@pytest.mark.parametrize("which", ["cn", "siglip"])
def test_verify_and_search(
    which: str, cn_bundle: Path, siglip_bundle: Path, cn_dir: Path, siglip_dir: Path
) -> None:
    bundle, model_dir = (cn_bundle, cn_dir) if which == "cn" else (siglip_bundle, siglip_dir)
    reports = verify_bundle(bundle, model=str(model_dir))
    assert reports and all(r.passed for r in reports)
    with engines.open(bundle) as enc:  # search: rank two images for each query
        sims = enc.encode_text(QUERIES[:2]) @ enc.encode_images(_images()).T
    assert sims.shape == (2, 2) and np.isfinite(sims).all()


def test_siglip_dir_without_tokenizer_json(tmp_path: Path) -> None:
    siglip.seeded(siglip.small_config()).save_pretrained(tmp_path)
    with pytest.raises(ModelLoadError, match="no tokenizer.json"):
        load_model(str(tmp_path))


def test_unsupported_model_type(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "blip"}), "utf-8")
    with pytest.raises(ModelLoadError, match="supported are 'clip', 'chinese_clip', 'siglip'"):
        load_model(str(tmp_path))


@pytest.fixture(scope="module")
def mobileclip_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_small_mobileclip(tmp_path_factory.mktemp("mobileclip-small"))


@pytest.fixture(scope="module")
def mobileclip_bundle(mobileclip_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _built(mobileclip_dir, tmp_path_factory.mktemp("mobileclip-bundle"))


def test_mobileclip_dir_exports_with_fixed_context(
    mobileclip_bundle: Path, mobileclip_dir: Path
) -> None:
    """timm FastViT image tower + bidirectional text: CLIP BPE at the full 77 tokens."""
    m = load_bundle(mobileclip_bundle).manifest
    assert m.model.family == "open_clip"
    assert m.text.tokenizer.kind == "clip_bpe" and m.text.tokenizer.pad_to_context
    assert {a.inputs[0].shape for a in m.artifacts if a.tower == "text"} == {(-1, 77)}
    assert m.image.mean == (0.0, 0.0, 0.0) and m.image.interpolation == "bilinear"
    assert all(a.parity and a.parity.min_cosine >= 0.999 for a in m.artifacts)
    for prefer in ("onnxruntime", "openvino"):
        _runtime_matches_torch(mobileclip_bundle, mobileclip_dir, prefer)


def test_mobileclip_verify_search_and_bench(
    mobileclip_bundle: Path, mobileclip_dir: Path, tmp_path: Path
) -> None:
    reports = verify_bundle(mobileclip_bundle, model=str(mobileclip_dir))
    assert reports and all(r.passed for r in reports)
    with engines.open(mobileclip_bundle) as enc:
        sims = enc.encode_text(QUERIES[:2]) @ enc.encode_images(_images()).T
    assert sims.shape == (2, 2) and np.isfinite(sims).all()
    rc = bench_main([
        "engines", "--bundle", str(mobileclip_bundle), "--model", str(mobileclip_dir),
        "--backends", "torch,onnxruntime,openvino", "--precision", "fp32", "--batch", "1",
        "--samples", "2", "--min-seconds", "0", "--max-iters", "2", "--no-async",
        "--out", str(tmp_path),
    ])  # fmt: skip
    rows = {r["key"]: r for r in json.loads((tmp_path / "engines.json").read_text())["rows"]}
    assert rc == 0 and rows["torch/fp32"]["status"] == "ok"
    for key in ("onnxruntime/fp32", "openvino/fp32"):
        assert rows[key]["status"] == "ok", rows[key].get("reason")
        assert rows[key]["parity"]["text"]["min_cosine"] > 0.999


def test_mobileclip_random_has_the_published_geometry() -> None:
    """`mobileclip-random` = MobileCLIP-S1 (paper: 21.5 M image + 63.4 M text), seeded."""
    loaded, again = load_model("mobileclip-random"), load_model("mobileclip-random")
    assert isinstance(loaded.model, OpenClipTowers) and isinstance(again.model, OpenClipTowers)
    visual = loaded.model.clip.get_submodule("visual")
    image_m = sum(p.numel() for p in visual.parameters()) / 1e6
    text_m = sum(p.numel() for p in loaded.model.clip.parameters()) / 1e6 - image_m
    assert round(image_m, 1) == 21.5 and round(text_m, 1) == 63.4
    assert (loaded.image.size, loaded.embedding_dim, loaded.context_length) == (256, 512, 77)
    assert loaded.tokenizer.spec.pad_to_context
    reloaded = again.model.clip.get_submodule("visual")  # verify/bench reload it: same weights
    pairs = zip(visual.parameters(), reloaded.parameters(), strict=True)
    assert all(torch.equal(a, b) for a, b in pairs)


def test_mobileclip_without_open_clip_names_the_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "open_clip", None)  # `import open_clip` -> ImportError
    with pytest.raises(ModelLoadError, match="open-clip-torch timm torchvision"):
        load_model("mobileclip-random")
