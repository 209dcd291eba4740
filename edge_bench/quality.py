"""`edge-bench quality`: retrieval Recall@K on an image-caption set.

Speed means nothing if a conversion broke the embeddings; text->image and
image->text Recall@1/5/10 through the appliance's own `engines.open` path is the
end-to-end check (and, with a real checkpoint, the model-quality figure).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from edge_bench.captions import CaptionedImage, load_caption_set
from edge_bench.report import results_markdown

KS = (1, 5, 10)


def recall_at_k(
    sim: np.ndarray, relevant: list[set[int]], ks: tuple[int, ...] = KS
) -> dict[str, float]:
    """sim (queries x candidates); a query hits @k if any relevant candidate is in its top k."""
    order = np.argsort(-sim, axis=1, kind="stable")
    out = {}
    for k in ks:
        top = order[:, :k]
        hits = [bool(relevant[i] & set(top[i].tolist())) for i in range(sim.shape[0])]
        out[f"R@{k}"] = round(float(np.mean(hits)), 4)
    return out


def _embed_images(encoder: Any, items: list[CaptionedImage], batch: int) -> np.ndarray:
    parts = []
    for i in range(0, len(items), batch):
        imgs = []
        for item in items[i : i + batch]:
            with Image.open(item.path) as im:
                imgs.append(im.convert("RGB"))
        parts.append(encoder.encode_images(imgs))
    return np.concatenate(parts, axis=0)


def _embed_texts(encoder: Any, texts: list[str], batch: int) -> np.ndarray:
    return np.concatenate(
        [encoder.encode_text(texts[i : i + batch]) for i in range(0, len(texts), batch)], axis=0
    )


def evaluate(
    encoder: Any,
    items: list[CaptionedImage],
    batch: int = 32,
    log: Callable[[str], None] = lambda _m: None,
) -> dict[str, Any]:
    """Both directions; every caption is a text query, every image an image query."""
    texts = [c for it in items for c in it.captions]
    owner = [i for i, it in enumerate(items) for _ in it.captions]
    log(f"quality: embedding {len(items)} images and {len(texts)} captions")
    img = _embed_images(encoder, items, batch)
    txt = _embed_texts(encoder, texts, batch)
    sim = txt @ img.T
    t2i = recall_at_k(sim, [{o} for o in owner])
    caps_of: list[set[int]] = [set() for _ in items]
    for t, o in enumerate(owner):
        caps_of[o].add(t)
    i2t = recall_at_k(sim.T, caps_of)
    return {
        "images": len(items),
        "captions": len(texts),
        "text_to_image": t2i,
        "image_to_text": i2t,
    }


def run_quality(
    images: Path,
    captions: Path,
    bundle: Path,
    prefer: str | None,
    limit: int | None,
    log: Callable[[str], None] = lambda _m: None,
) -> dict[str, Any]:
    import engines

    items = load_caption_set(images, captions, limit)
    encoder = engines.open(bundle, prefer=prefer)
    try:
        result = evaluate(encoder, items, log=log)
        result["encoder"] = encoder.describe()
        result["bundle_id"] = encoder.bundle_id
    finally:
        encoder.close()
    chance = {f"R@{k}": round(min(1.0, k / len(items)), 4) for k in KS}
    result["chance_text_to_image"] = chance
    return result


def quality_markdown(payload: dict[str, Any], charts: list[str]) -> str:
    intro = (
        f"Bundle `{payload['bundle_id']}`, {payload['images']} images, {payload['captions']} captions "
        f"(`{payload['config']['captions']}`). Text->image: each caption retrieves its image; "
        "image->text: each image retrieves any of its captions. Chance level is given for scale."
    )
    rows = [
        [name, *[payload[key][f"R@{k}"] for k in KS]]
        for name, key in (
            ("text -> image", "text_to_image"),
            ("image -> text", "image_to_text"),
            ("chance (text -> image)", "chance_text_to_image"),
        )
    ]
    enc = ", ".join(f"{k}={v}" for k, v in payload["encoder"].items())
    head = ["direction", *[f"R@{k}" for k in KS]]
    return results_markdown(
        "Retrieval quality", payload, intro, head, rows, charts, "Recall", [f"Encoder: {enc}"]
    )
