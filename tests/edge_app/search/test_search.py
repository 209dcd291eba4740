"""SearchService end to end: real bundles (engines.open), real SQLite, real FAISS.

The library is filled directly with `Library.record_photos` from the encoder's own image
embeddings of the generated shape photos, so these tests do not depend on the indexer.
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

import engines
from edge_app.errors import ImageDecodeError, QueryError
from edge_app.library.store import Library, PhotoFilter, PhotoMeta
from edge_app.search.index_store import IndexStore
from edge_app.search.query import parse_query
from edge_app.search.service import SearchService
from edge_app.settings import Settings

Photos = list[tuple[Path, Any]]


def _build_service(tmp: Path, bundle: Path, photos: Photos) -> tuple[SearchService, list[int], Any]:
    encoder = engines.open(bundle)
    settings = Settings(data_dir=tmp, max_upload_bytes=2_000_000)
    writer = Library(settings.db_path)
    images = [Image.open(p).convert("RGB") for p, _ in photos]
    vectors = encoder.encode_images(images)
    metas = [
        PhotoMeta(
            rel_path=f"{spec.shape}/{i:03d}.jpg",
            size=1,
            mtime_ns=1,
            sha256=f"h{i}",
            taken_at=datetime(2020 + i % 4, 1 + i % 12, 1, 12),
            camera_make="Acme",
            camera_model=f"Cam{i % 3}",
            gps_lat=10.0 if i % 2 else None,
            gps_lon=20.0 if i % 2 else None,
        )  # fmt: skip
        for i, (_, spec) in enumerate(photos)
    ]
    ids = writer.record_photos(list(zip(metas, vectors, strict=True)), encoder.bundle_id)
    store = IndexStore(settings.index_dir, settings.ann_threshold)
    store.open(writer, encoder.bundle_id, encoder.dim)
    service = SearchService(settings, Library.open_reader(settings.db_path), store, encoder)
    return service, ids, encoder


@pytest.fixture(scope="module")
def tiny(
    tmp_path_factory: pytest.TempPathFactory, tiny_bundle: Path, shapes_photos: Photos
) -> Iterator[tuple[SearchService, list[int], Any]]:
    service, ids, encoder = _build_service(
        tmp_path_factory.mktemp("tiny"), tiny_bundle, shapes_photos
    )
    yield service, ids, encoder
    encoder.close()


def _all_embeddings(service: SearchService) -> tuple[np.ndarray, np.ndarray]:
    [(ids, mat)] = list(service.library.iter_embeddings(service.encoder.bundle_id, 10_000))
    return ids, mat


def _brute(
    service: SearchService, vector: np.ndarray, allowed: np.ndarray | None = None
) -> list[int]:
    ids, mat = _all_embeddings(service)
    keep = np.ones(len(ids), bool) if allowed is None else np.isin(ids, allowed)
    order = np.argsort(-(mat[keep] @ vector), kind="stable")
    return ids[keep][order].tolist()


def test_text_search_ranks_like_brute_force(tiny: tuple[SearchService, list[int], Any]) -> None:
    service, ids, encoder = tiny
    page = service.search("a red circle", limit=10)
    vector = encoder.encode_text(["a red circle"])[0]
    assert [r.photo_id for r in page.results] == _brute(service, vector)[:10]
    scores = [r.score for r in page.results]
    assert scores == sorted(scores, reverse=True) and -1.0 <= scores[-1] <= scores[0] <= 1.0
    assert page.total == len(ids) and page.has_more and page.next_offset == 10
    first = page.results[0]
    assert (
        first.rel_path.endswith(".jpg") and first.camera is not None and first.taken_at is not None
    )


def test_pagination_concatenates_to_one_long_page(
    tiny: tuple[SearchService, list[int], Any],
) -> None:
    service, ids, _ = tiny
    whole = [r.photo_id for r in service.search("blue square", limit=len(ids)).results]
    paged: list[int] = []
    offset = 0
    while True:
        page = service.search("blue square", limit=7, offset=offset)
        paged += [r.photo_id for r in page.results]
        if page.next_offset is None:
            break
        offset = page.next_offset
    assert paged == whole and len(whole) == len(ids)
    with pytest.raises(QueryError, match="limit"):
        service.search("x", limit=0)


def test_filters_apply_inside_the_vector_search(tiny: tuple[SearchService, list[int], Any]) -> None:
    service, ids, encoder = tiny
    flt = PhotoFilter(
        taken_from=date(2021, 1, 1), taken_to=date(2022, 12, 31), has_gps=True, camera="Acme Cam1"
    )
    allowed = service.library.filter_ids(flt)
    assert 0 < len(allowed) < len(ids)
    page = service.search("a green triangle", flt, limit=5)
    vector = encoder.encode_text(["a green triangle"])[0]
    assert [r.photo_id for r in page.results] == _brute(service, vector, allowed)[:5]
    assert page.total == len(allowed)
    for r in page.results:
        assert r.gps_lat is not None and r.camera == "Acme Cam1"
        assert r.taken_at is not None and 2021 <= r.taken_at.year <= 2022
    folder = service.search("cross", PhotoFilter(folder="cross"), limit=50)
    assert folder.results and all(r.folder == "cross" for r in folder.results)
    nothing = service.search("cross", PhotoFilter(folder="no-such-folder"))
    assert (nothing.results, nothing.total, nothing.has_more) == ((), 0, False)


def test_min_score_and_similar(tiny: tuple[SearchService, list[int], Any]) -> None:
    service, ids, _ = tiny
    best = service.similar(ids[0], limit=len(ids))
    assert ids[0] not in [r.photo_id for r in best.results] and best.total == len(ids) - 1
    cut = best.results[len(best.results) // 2].score
    above = service.similar(ids[0], min_score=cut, limit=5)
    expected = [r.photo_id for r in best.results if r.score >= cut]
    assert above.total == len(expected) and [r.photo_id for r in above.results] == expected[:5]
    assert all(r.score >= cut for r in above.results)


def test_photo_terms_and_weighted_combination(tiny: tuple[SearchService, list[int], Any]) -> None:
    service, ids, encoder = tiny
    own = service.library.get_embedding(ids[3])
    assert own is not None
    page = service.search(f"photo:{ids[3]}", limit=1)
    assert page.results[0].photo_id == ids[3] and page.results[0].score > 0.99
    text = encoder.encode_text(["red", "circle"])
    combined = 2 * text[0] - text[1] + 0.5 * own
    expected = combined / np.linalg.norm(combined)
    got = service.query_vector(parse_query(f'2:red - "circle" + 0.5:photo:{ids[3]}'))
    np.testing.assert_allclose(got, expected, atol=1e-5)
    with pytest.raises(QueryError, match="photo:999999"):
        service.search("photo:999999")
    with pytest.raises(QueryError, match="cancel"):
        service.search('"dog" - "dog"')
    with pytest.raises(QueryError, match="unterminated"):
        service.search('"dog')


def test_image_search_from_pil_and_bytes(
    tiny: tuple[SearchService, list[int], Any], shapes_photos: Photos
) -> None:
    service, ids, _ = tiny
    path = shapes_photos[5][0]
    assert service.search_image(Image.open(path), limit=1).results[0].photo_id == ids[5]
    assert service.search_image(path.read_bytes(), limit=1).results[0].photo_id == ids[5]


def _png_header(width: int, height: int) -> bytes:
    """A syntactically valid PNG claiming a huge size (a decompression-bomb header)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    idat = b"IDAT" + zlib.compress(b"\x00" * 16)
    return (
        b"\x89PNG\r\n\x1a\n" + struct.pack(">I", len(ihdr)) + chunk + struct.pack(">I", zlib.crc32(chunk))
        + struct.pack(">I", len(idat) - 4) + idat + struct.pack(">I", zlib.crc32(idat))
    )  # fmt: skip


def test_upload_guards(tiny: tuple[SearchService, list[int], Any]) -> None:
    service, _, _ = tiny
    with pytest.raises(ImageDecodeError, match="too large"):
        service.search_image(_png_header(40_000, 25_000))  # 1 gigapixel
    with pytest.raises(ImageDecodeError, match="limit"):
        service.search_image(b"\xff" * 2_000_001)
    with pytest.raises(ImageDecodeError, match="not a usable image"):
        service.search_image(b"hello, not an image")
    buf = io.BytesIO()
    Image.new("RGB", (64, 64), "red").save(buf, "JPEG")
    with pytest.raises(ImageDecodeError, match="damaged"):
        service.search_image(buf.getvalue()[:200])


@pytest.mark.slow
def test_toy_model_finds_the_named_colour_and_shape(
    tmp_path: Path, toy_bundle: Path, shapes_photos: Photos
) -> None:
    service, _, encoder = _build_service(tmp_path, toy_bundle, shapes_photos)
    try:
        specs = {f"{spec.shape}/{i:03d}.jpg": spec for i, (_, spec) in enumerate(shapes_photos)}
        for colour in ("red", "blue"):
            page = service.search(f"a {colour} shape", limit=3)
            hits = [specs[r.rel_path].color for r in page.results]
            assert hits.count(colour) >= 2, (colour, hits)
        # The toy model was trained on "a {colour} {shape}" captions: each such query
        # present in the folder must put a photo of exactly that label first.
        labels = sorted({(spec.color, spec.shape) for spec in specs.values()})
        right = 0
        for colour, shape in labels:
            top = service.search(f"a {colour} {shape}", limit=1).results[0]
            right += (specs[top.rel_path].color, specs[top.rel_path].shape) == (colour, shape)
        assert right / len(labels) >= 0.85, (right, len(labels))
    finally:
        encoder.close()


def test_service_duplicates_use_the_settings_threshold(
    tiny: tuple[SearchService, list[int], Any],
) -> None:
    service, ids, _ = tiny
    groups = service.duplicates()
    assert groups == service.duplicates(service.settings.duplicate_threshold)
    assert all(g.min_score >= service.settings.duplicate_threshold for g in groups)
    assert set().union(*(g.ids for g in groups)) <= set(ids)
    assert service.duplicates(1.0) == []
