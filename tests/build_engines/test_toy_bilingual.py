"""The bilingual toy model: Chinese and English text->image R@1 >= 0.9 through the bundle."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

import engines
from build_engines import shapes
from build_engines.models import toy_bilingual, toy_shapes
from engines.bundle import load_bundle
from engines.clip_encoder import ClipEncoder

GALLERIES = 10


def _r1(enc: ClipEncoder, queries: list[str]) -> float:
    """Mean over held-out galleries of: the one matching image ranks first."""
    labels = list(shapes.iter_labels())
    txt = enc.encode_text(queries)
    hits = 0.0
    for g in range(GALLERIES):
        gallery = shapes.gallery_specs(toy_shapes.EVAL_SEED + g)  # never trained on
        img = enc.encode_images([shapes.render(s, (256, 256)) for s in gallery])
        hits += float(np.mean((txt @ img.T).argmax(1) == np.arange(len(labels))))
    return hits / GALLERIES


@pytest.mark.parametrize("backend", ["onnxruntime", "openvino"])
def test_chinese_and_english_r1_through_the_bundle(bilingual_bundle: Path, backend: str) -> None:
    specs = [shapes.ShapeSpec(s, c, "white") for s, c in shapes.iter_labels()]
    with engines.open(bilingual_bundle, prefer=backend) as enc:
        zh = _r1(enc, [shapes.short_caption_zh(s) for s in specs])
        hant = _r1(enc, [shapes.short_caption_zh(s, traditional=True) for s in specs])
        en = _r1(enc, [shapes.short_caption(s) for s in specs])
    assert zh >= 0.9 and en >= 0.9 and hant >= 0.9, (zh, en, hant)


def test_bundle_carries_the_wordpiece_tokenizer(bilingual_bundle: Path) -> None:
    m = load_bundle(bilingual_bundle).manifest
    assert m.model.id == "toy-shapes-bilingual"
    assert m.text.tokenizer.kind == "hf_tokenizers"
    assert m.text.tokenizer_files == ("tokenizer/tokenizer.json",)
    assert (m.text.sot_token, m.text.eot_token, m.text.context_length) == (101, 102, 32)


def test_image_tower_is_the_toy_one(bilingual_bundle: Path, toy_bundle: Path) -> None:
    """Frozen image tower: both bundles embed an image identically."""
    img = [shapes.render(shapes.ShapeSpec("circle", "red", "white"), (128, 128))]
    with (
        engines.open(bilingual_bundle, prefer="onnxruntime") as a,
        engines.open(toy_bundle, prefer="onnxruntime") as b,
    ):
        assert float(np.sum(a.encode_images(img) * b.encode_images(img))) > 0.9999


def test_training_is_deterministic(tmp_path: Path) -> None:
    """Two short runs with the same seed write byte-identical checkpoints."""
    cfg = replace(toy_bilingual.BilingualConfig(), steps=2, n_images=24, warmup=1)
    for run in ("a", "b"):
        toy_bilingual.train(tmp_path / run, seed=0, config=cfg)
    names = (toy_bilingual.WEIGHTS_NAME, toy_bilingual.CONFIG_NAME)
    for name in names:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
