"""The relevance rule (docs/API.md "Relevance") on score lists and the query-image store."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from PIL import Image

from edge_app.errors import NotFoundError, QueryError
from webui import query_images, relevance


def test_clear_winners_are_close_matches_the_rest_weak() -> None:
    scores = [0.77, 0.76, 0.72, 0.70] + [0.30 - i * 0.01 for i in range(40)]
    split = relevance.split(scores, null=0.2)
    assert not split.no_close and split.strong == 4


def test_flat_scores_mean_no_close_matches() -> None:
    scores = [0.66, 0.61, 0.57] + [0.40 - i * 0.002 for i in range(40)]
    split = relevance.split(scores, null=0.35)
    assert split.no_close and split.strong == 0
    assert relevance.split([], null=0.1).no_close


def test_null_gap_is_cached_per_bundle_and_library_size() -> None:
    calls: list[str] = []

    def probe(text: str) -> list[float]:
        calls.append(text)
        return [0.5, 0.2, 0.1]

    key = ("bundle-under-test", 3)
    assert relevance.null_gap(key, probe) == pytest.approx(0.3)
    assert relevance.null_gap(key, probe) == pytest.approx(0.3)
    assert len(calls) == len(relevance.PROBES)


NO_CAP = (1000, 10**9)


def test_query_image_token_roundtrip_and_errors(tmp_path: Path) -> None:
    img = Image.new("RGB", (2000, 1000), (200, 30, 30))
    token = query_images.save(tmp_path, img, *NO_CAP)
    assert token == query_images.save(tmp_path, img, *NO_CAP)  # same image, same token
    loaded = query_images.load(tmp_path, token)
    assert max(loaded.size) == query_images.MAX_SIDE
    with pytest.raises(QueryError, match="20 hex"):
        query_images.path(tmp_path, "../../etc/passwd")
    with pytest.raises(NotFoundError, match="expired"):
        query_images.path(tmp_path, "0" * 20)


def test_old_query_images_expire_on_the_next_upload(tmp_path: Path) -> None:
    old = query_images.save(tmp_path, Image.new("RGB", (8, 8), (1, 2, 3)), *NO_CAP)
    stale = time.time() - query_images.TOKEN_TTL_S - 60
    os.utime(query_images.path(tmp_path, old), (stale, stale))
    query_images.save(tmp_path, Image.new("RGB", (8, 8), (9, 9, 9)), *NO_CAP)
    with pytest.raises(NotFoundError):
        query_images.path(tmp_path, old)


def _noise(seed: int, side: int = 64) -> Image.Image:
    """A distinct, incompressible image (so each JPEG has a real, different size)."""
    import numpy as np

    pixels = np.random.default_rng(seed).integers(0, 255, (side, side, 3), dtype=np.uint8)
    return Image.fromarray(pixels)


def _stored(tmp_path: Path) -> list[Path]:
    return sorted((tmp_path / "query-images").glob("*.jpg"))


def test_query_images_are_capped_by_count_oldest_first(tmp_path: Path) -> None:
    tokens = []
    for seed in range(5):
        tokens.append(query_images.save(tmp_path, _noise(seed), 3, 10**9))
        path = query_images.path(tmp_path, tokens[-1])
        age = time.time() - 100 + seed  # a clear age order, well inside the TTL
        os.utime(path, (age, age))
    assert len(_stored(tmp_path)) == 3
    for gone in tokens[:2]:
        with pytest.raises(NotFoundError):
            query_images.path(tmp_path, gone)
    for kept in tokens[2:]:
        assert query_images.load(tmp_path, kept).size == (64, 64)


def test_query_images_are_capped_by_bytes_and_keep_the_new_one(tmp_path: Path) -> None:
    first = query_images.save(tmp_path, _noise(1, 256), 100, 10**9)
    one = query_images.path(tmp_path, first).stat().st_size
    os.utime(query_images.path(tmp_path, first), (time.time() - 100, time.time() - 100))
    second = query_images.save(tmp_path, _noise(2, 256), 100, int(one * 1.5))
    assert [p.name for p in _stored(tmp_path)] == [f"{second}.jpg"]
    # a cap smaller than one image still keeps the image just uploaded (its search works)
    third = query_images.save(tmp_path, _noise(3, 256), 100, 10)
    assert [p.name for p in _stored(tmp_path)] == [f"{third}.jpg"]
