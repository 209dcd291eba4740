"""The committed toy-shapes CLIP understands its world, in PyTorch and through a bundle.

The bundle tests are the end-to-end check that search *means* something: the runtime's
decode -> preprocess -> tokenizer -> ONNX/OpenVINO chain must rank red circles first for
"a red circle", and the same test visibly fails when the channel order or the
normalisation is wrong (shown here by feeding exactly those bugs on purpose).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from transformers import CLIPModel, CLIPTextConfig

import engines
from build_engines import shapes
from build_engines.models import toy_shapes
from build_engines.models.base import LoadedClip
from build_engines.models.hf_clip import HFClipTowers
from engines.clip_encoder import ClipEncoder

FRESH_SEED = 424_242  # not used by training (seed 0) nor by its held-out evaluation
MAX_CHECKPOINT_BYTES = 5 * 1024 * 1024


@pytest.fixture(scope="module")
def loaded() -> LoadedClip:
    return toy_shapes.load()


def _clip(loaded: LoadedClip) -> CLIPModel:
    """The transformers model inside the export wrapper."""
    assert isinstance(loaded.model, HFClipTowers)
    return loaded.model.clip


def _gallery_sims(loaded: LoadedClip, input_ids: torch.Tensor, seed: int) -> torch.Tensor:
    """(queries, images) similarities on one gallery where each label appears once."""
    from engines.preprocess import ImagePreprocessor

    pre = ImagePreprocessor(loaded.image)
    imgs = [shapes.render(s, (256, 256)) for s in shapes.gallery_specs(seed)]
    with torch.no_grad():
        img = loaded.model.image_embeds(torch.from_numpy(pre.batch(imgs)))
        return loaded.model.text_embeds(input_ids) @ img.T


def test_checkpoint_is_small_and_self_describing(loaded: LoadedClip) -> None:
    files = [
        toy_shapes.DATA_DIR / toy_shapes.WEIGHTS_NAME,
        toy_shapes.DATA_DIR / toy_shapes.CONFIG_NAME,
    ]
    assert sum(f.stat().st_size for f in files) <= MAX_CHECKPOINT_BYTES
    assert loaded.info.id == "toy-shapes"
    assert loaded.info.source == "builtin:toy-shapes"
    assert loaded.info.family == "builtin"
    assert "synthetic" in loaded.info.note
    assert loaded.context_length == toy_shapes.CONTEXT_LENGTH
    assert loaded.embedding_dim == 64
    text_cfg = _clip(loaded).config.text_config
    assert isinstance(text_cfg, CLIPTextConfig)
    assert (text_cfg.vocab_size, text_cfg.eos_token_id, text_cfg.bos_token_id) == (
        49408,
        49407,
        49406,
    )


def test_untrained_token_rows_are_recreated_exactly(loaded: LoadedClip) -> None:
    """Rows no caption uses are not stored; load must rebuild the very table training saw."""
    embedding = _clip(loaded).text_model.embeddings.token_embedding
    assert isinstance(embedding, torch.nn.Embedding)
    table = embedding.weight.detach()
    meta = json.loads((toy_shapes.DATA_DIR / toy_shapes.CONFIG_NAME).read_text("utf-8"))
    stored = set(meta["token_rows"])
    caption_ids = set(toy_shapes.tokenizer()(["a red circle on a white background"])[0].tolist())
    assert caption_ids <= stored
    untrained = toy_shapes.untrained_embedding(table.shape[1])
    unused = torch.tensor([i for i in range(0, 49408, 97) if i not in stored])
    assert torch.equal(table[unused], untrained[unused])
    used = torch.tensor(sorted(caption_ids - {0}))
    assert not torch.allclose(table[used], untrained[used])  # the caption tokens were trained


def test_pytorch_heldout_r1(loaded: LoadedClip) -> None:
    metrics = toy_shapes.evaluate(loaded, seed=FRESH_SEED, galleries=10)
    assert metrics["t2i_r1"] >= 0.9, metrics
    assert metrics["i2t_r1"] >= 0.8, metrics


def test_pooling_at_eot_is_what_carries_meaning(loaded: LoadedClip) -> None:
    """Drop EOT (a tokenizer bug) and every query pools the same SOT state: R@1 collapses."""
    queries = [f"a {c} {s}" for s, c in shapes.iter_labels()]
    ids = torch.from_numpy(toy_shapes.tokenizer(loaded.context_length)(queries))
    truth = torch.arange(len(queries))
    good = (_gallery_sims(loaded, ids, FRESH_SEED).argmax(1) == truth).float().mean()
    broken = ids.masked_fill(ids == 49407, 0)
    bad = (_gallery_sims(loaded, broken, FRESH_SEED).argmax(1) == truth).float().mean()
    assert good >= 0.85
    assert bad <= 0.2


def test_contrastive_loss_prefers_matching_pairs() -> None:
    gen = torch.Generator().manual_seed(0)
    emb = torch.nn.functional.normalize(torch.randn(6, 8, generator=gen), dim=-1)
    positive = torch.eye(6, dtype=torch.bool)
    scale = torch.tensor(10.0)
    matched = toy_shapes.contrastive_loss(emb, emb, positive, scale)
    shuffled = toy_shapes.contrastive_loss(emb, emb.roll(1, 0), positive, scale)
    assert matched < shuffled


def test_train_is_deterministic_and_loadable(tmp_path: Path) -> None:
    """A few steps only: this checks the plumbing and reproducibility, not the quality."""
    cfg = toy_shapes.TrainConfig(
        steps=3, batch=8, n_train=16, warmup=1, eval_galleries=1, render_sizes=(64,)
    )
    a = toy_shapes.train(tmp_path / "a", seed=5, max_seconds=600, config=cfg)
    toy_shapes.train(tmp_path / "b", seed=5, max_seconds=600, config=cfg)
    weights = toy_shapes.WEIGHTS_NAME
    assert (tmp_path / "a" / weights).read_bytes() == (tmp_path / "b" / weights).read_bytes()
    assert a["steps"] == 3 and a["stopped_early"] == 0.0
    assert 0.0 <= a["t2i_r1"] <= 1.0
    reloaded = toy_shapes.load(tmp_path / "a")
    x = torch.zeros(1, 3, cfg.image_size, cfg.image_size)
    assert reloaded.model.image_embeds(x).shape == (1, 64)


def test_train_stops_at_the_time_budget(tmp_path: Path) -> None:
    cfg = toy_shapes.TrainConfig(steps=50, batch=8, n_train=8, eval_galleries=1, render_sizes=(64,))
    metrics = toy_shapes.train(tmp_path, seed=1, max_seconds=0.0, config=cfg)
    assert metrics["stopped_early"] == 1.0
    assert metrics["steps"] == 0


# --------------------------------------------------------------------------- bundle


@pytest.fixture(scope="module")
def encoder(toy_bundle: Path) -> Iterator[ClipEncoder]:
    enc = engines.open(toy_bundle, prefer="onnxruntime")
    yield enc
    enc.close()


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[Image.Image, shapes.ShapeSpec]]:
    """Real JPEG files decoded by Pillow, as the indexer would see them."""
    written = shapes.write_folder(tmp_path_factory.mktemp("toy_photos"), n=60, seed=2026)
    out = []
    for path, spec in written:
        with Image.open(path) as img:
            out.append((img.convert("RGB"), spec))
    return out


def _average_precision(scores: np.ndarray, relevant: np.ndarray) -> float:
    order = np.argsort(-scores)
    hits = relevant[order]
    precision = np.cumsum(hits) / np.arange(1, len(hits) + 1)
    return float((precision * hits).sum() / hits.sum())


def _mean_ap(
    encoder: ClipEncoder, image_embeds: np.ndarray, specs: list[shapes.ShapeSpec]
) -> float:
    """Mean AP of "a {color} {shape}" over every label present in the folder."""
    labels = sorted({s.label for s in specs})
    text = encoder.encode_text([f"a {c} {s}" for s, c in labels])
    sims = text @ image_embeds.T
    truth = np.array([[s.label == lab for s in specs] for lab in labels])
    return float(np.mean([_average_precision(sims[i], truth[i]) for i in range(len(labels))]))


def _red_circle_scores(encoder: ClipEncoder, image_embeds: np.ndarray) -> np.ndarray:
    return (encoder.encode_text(["a red circle"]) @ image_embeds.T)[0]


def test_bundle_red_circle_ranks_red_circles_first(encoder: ClipEncoder, photos: list) -> None:
    specs = [s for _, s in photos]
    is_red_circle = np.array([s.label == ("circle", "red") for s in specs])
    assert is_red_circle.sum() >= 2, "fixture folder must contain red circles"
    embeds = encoder.encode_images([img for img, _ in photos])
    scores = _red_circle_scores(encoder, embeds)
    assert scores[is_red_circle].min() > scores[~is_red_circle].max()
    assert _mean_ap(encoder, embeds, specs) >= 0.9


def test_bundle_heldout_r1(encoder: ClipEncoder) -> None:
    """Same R@1 as PyTorch, measured through the exported graphs and the runtime tokenizer."""
    hits, total = 0, 0
    for g in range(10):
        imgs = [shapes.render(s, (256, 256)) for s in shapes.gallery_specs(FRESH_SEED + g)]
        sims = encoder.encode_text([f"a {c} {s}" for s, c in shapes.iter_labels()])
        sims = sims @ encoder.encode_images(imgs).T
        hits += int((sims.argmax(1) == np.arange(len(imgs))).sum())
        total += len(imgs)
    assert hits / total >= 0.9


def test_bgr_input_breaks_search(encoder: ClipEncoder, photos: list) -> None:
    """A channel-order bug turns red into blue: the test would catch it."""
    specs = [s for _, s in photos]
    bgr = [Image.fromarray(np.asarray(img)[..., ::-1].copy()) for img, _ in photos]
    embeds = encoder.encode_images(bgr)
    top = specs[int(np.argmax(_red_circle_scores(encoder, embeds)))]
    assert top.label != ("circle", "red")
    assert top.color == "blue"
    assert _mean_ap(encoder, embeds, specs) < 0.6


def test_wrong_normalisation_breaks_search(encoder: ClipEncoder, photos: list) -> None:
    """Forgetting mean/std (plain /255) is measurably wrong, not silently tolerated."""
    specs = [s for _, s in photos]
    good = np.stack([encoder.preprocess(img) for img, _ in photos])
    mean = np.asarray(encoder.manifest.image.mean, dtype=np.float32).reshape(1, 3, 1, 1)
    std = np.asarray(encoder.manifest.image.std, dtype=np.float32).reshape(1, 3, 1, 1)
    plain = np.ascontiguousarray(good * std + mean, dtype=np.float32)  # = pixels / 255
    right = _mean_ap(encoder, encoder.encode_pixels(good), specs)
    wrong = _mean_ap(encoder, encoder.encode_pixels(plain), specs)
    assert right >= 0.9
    assert wrong < right - 0.25
