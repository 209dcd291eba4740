"""Search by recognised text: the `text:` grammar, the trigram index and the ranking rule.

Lines are written with `Library.record_ocr` (the OCR pass's own write), so these tests
exercise SQLite FTS5 and the ranking rule without running the OCR models.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from edge_app.errors import QueryError
from edge_app.library.ocr_store import OcrLineRow
from edge_app.library.store import Library, PhotoFilter
from edge_app.search.query import parse_query
from edge_app.search.service import SearchService
from tests.edge_app.search.test_search import Photos, _build_service

BOX = ((0.1, 0.1), (0.5, 0.1), (0.5, 0.2), (0.1, 0.2))
#: photo index -> recognised lines (text, confidence)
LINES = {
    0: [("PART 4711-B", 0.97), ("made in Germany", 0.91)],
    1: [("北京大学图书馆", 0.99)],
    2: [("Part 4711", 0.80)],
    3: [("EXIT", 0.95)],
    4: [("大学", 0.9), ("50% OFF", 0.88)],
    7: [("THEATRE ROYAL", 0.99)],
    8: [("the end", 0.60)],
    9: [("Café de Flore", 0.85), ("cafeteria", 0.99)],
    10: [("SEA VIEW CAFE", 0.70)],
    11: [("PANIC BUTTON", 0.70)],
    12: [("DONT PAHIC", 0.99)],  # "panic" misread by one character
    13: [("PANICKED", 0.95)],
}


@pytest.fixture(scope="module")
def svc(
    tmp_path_factory: pytest.TempPathFactory, tiny_bundle: Path, shapes_photos: Photos
) -> Iterator[tuple[SearchService, list[int]]]:
    service, ids, encoder = _build_service(
        tmp_path_factory.mktemp("text"), tiny_bundle, shapes_photos
    )
    with Library(service.settings.db_path) as writer:
        for i, lines in LINES.items():
            rows = [OcrLineRow(t, s, BOX) for t, s in lines]
            writer.record_ocr(ids[i], f"h{i}", "done", rows, engine="test")
        writer.record_ocr(ids[5], "h5", "no_text")
        writer.record_ocr(ids[6], "stale-sha", "done", [OcrLineRow("PART 4711", 0.99, BOX)])
    yield service, ids
    encoder.close()


def _ids(page: Any) -> list[int]:
    return [r.photo_id for r in page.results]


def test_grammar_reads_text_terms() -> None:
    parsed = parse_query('text:"part 4711" + red car - text:sale')
    assert [(t.ocr, t.weight) for t in parsed.ocr_terms] == [("part 4711", 1.0), ("sale", -1.0)]
    assert parsed.texts == ["red car"]
    assert str(parse_query("text:EXIT")) == 'text:"EXIT"'
    with pytest.raises(QueryError, match="text: needs words"):
        parse_query("text: exit")


def test_english_phrase_is_case_insensitive_and_ranked_by_confidence(
    svc: tuple[SearchService, list[int]],
) -> None:
    service, ids = svc
    page = service.search('text:"part 4711"')
    assert _ids(page) == [ids[0], ids[2]]  # 0.97 before 0.80; photo 6's line is stale
    assert page.results[0].text_match == "PART 4711-B" and page.results[0].score == pytest.approx(
        0.97
    )
    assert _ids(service.search("text:germany")) == [ids[0]]


def test_chinese_substrings(svc: tuple[SearchService, list[int]]) -> None:
    service, ids = svc
    assert _ids(service.search('text:"图书馆"')) == [ids[1]]  # trigram
    assert _ids(service.search("text:大学")) == [ids[1], ids[4]]  # 2 characters: LIKE


def test_short_queries_and_like_wildcards_are_literal(svc: tuple[SearchService, list[int]]) -> None:
    service, ids = svc
    assert _ids(service.search('text:"0%"')) == [ids[4]]
    assert _ids(service.search("text:_")) == []


def test_text_filter_with_semantic_terms_ranks_by_cosine(
    svc: tuple[SearchService, list[int]],
) -> None:
    service, ids = svc
    page = service.search("text:4711 + a red circle")
    vec = service.query_vector(parse_query("a red circle"))
    _, mat = service.library.get_embeddings([ids[0], ids[2]])
    expected = [ids[0], ids[2]] if mat[0] @ vec >= mat[1] @ vec else [ids[2], ids[0]]
    assert _ids(page) == expected


def test_negative_text_term_excludes(svc: tuple[SearchService, list[int]]) -> None:
    service, ids = svc
    page = service.search("a red circle - text:exit", limit=500)
    assert ids[3] not in _ids(page) and len(page.results) == len(ids) - 1


def test_plain_query_puts_text_matches_first_then_the_rest(
    svc: tuple[SearchService, list[int]],
) -> None:
    service, ids = svc
    whole = service.search("exit", limit=500)
    assert _ids(whole)[0] == ids[3] and whole.results[0].text_match == "EXIT"
    assert sorted(_ids(whole)) == sorted(ids) and whole.total == len(ids)
    assert all(r.text_match is None for r in whole.results[1:])
    paged: list[int] = []
    offset: int | None = 0
    while offset is not None:
        page = service.search("exit", limit=7, offset=offset)
        paged += _ids(page)
        offset = page.next_offset
    assert paged == _ids(whole)


def test_filters_apply_to_text_matches(svc: tuple[SearchService, list[int]]) -> None:
    service, ids = svc
    flt = PhotoFilter(camera="Acme Cam2")  # photo i has camera Cam{i % 3}
    assert _ids(service.search('text:"part 4711"', flt)) == [ids[2]]
    assert _ids(service.search("exit", flt, limit=500))[0] != ids[3]


def test_only_negative_text_terms_is_a_clear_error(svc: tuple[SearchService, list[int]]) -> None:
    service, _ = svc
    with pytest.raises(QueryError, match="nothing to rank by"):
        service.search("- text:exit")


def test_counts(svc: tuple[SearchService, list[int]]) -> None:
    service, ids = svc
    counts = service.library.ocr_counts()
    assert counts == {"done": 12, "no_text": 1, "failed": 0, "pending": len(ids) - 13}


def test_whole_word_ranks_above_a_match_inside_a_longer_word(
    svc: tuple[SearchService, list[int]],
) -> None:
    """The word "the" stands alone in "the end" (confidence 0.60), is part of "THEATRE" (0.99)."""
    service, ids = svc
    page = service.search("text:the")
    assert _ids(page) == [ids[8], ids[7]]
    assert page.results[0].text_match == "the end"
    # each photo's best line: photo 9's "Café" (0.85) beats its "cafeteria" (0.99, a part)
    assert _ids(service.search("text:cafe")) == [ids[9], ids[10]]
    assert _ids(service.search("text:CAFÉ")) == [ids[9], ids[10]]  # accents do not count
    assert _ids(service.search("text:feter")) == [ids[9]]
    # with semantic terms the whole-word group still comes first, whatever the cosine
    assert _ids(service.search("text:the + a red circle"))[0] == ids[8]


def test_phrases_match_as_phrases(svc: tuple[SearchService, list[int]]) -> None:
    service, ids = svc
    assert _ids(service.search('text:"the end"')) == [ids[8]]
    assert _ids(service.search('text:"end the"')) == []
    assert _ids(service.search('text:"de flore"')) == [ids[9]]


def test_match_rank_is_case_and_accent_insensitive() -> None:
    from edge_app.library.ocr_store import INSIDE, WHOLE, match_rank

    assert match_rank("cafe", "CAFÉ de Flore") == WHOLE
    assert match_rank("Café", "sea view cafe") == WHOLE
    assert match_rank("the", "Theatre") == INSIDE
    assert match_rank("part 4711", "PART  4711-B") == WHOLE  # spaces collapsed, "-" ends a word
    assert match_rank("art 47", "part 4711") == INSIDE
    assert match_rank("大学", "北京大学图书馆") == WHOLE  # no spaces in Chinese: substrings
    assert match_rank("exit", "entrance") == 0


def test_a_word_read_one_character_off_comes_after_every_exact_match(
    svc: tuple[SearchService, list[int]],
) -> None:
    """The misread "PAHIC" (0.99) is found for text:panic, below the whole word (0.70) and the longer
    word (0.95): OCR-error tolerance is the lowest tier, whatever the confidence."""
    service, ids = svc
    page = service.search("text:panic")
    assert _ids(page) == [ids[11], ids[13], ids[12]]
    assert page.results[2].text_match == "DONT PAHIC"
    assert _ids(service.search("text:panic + a red circle"))[-1] == ids[12]
    # excluding matches exactly: "PANIC" is one edit from "pahic" but is not excluded
    assert _ids(service.search("text:panic - text:pahic")) == [ids[11], ids[13]]
    assert _ids(service.search('text:"dont panic"')) == []  # phrases stay exact
    assert _ids(service.search("text:exot")) == []  # 4 letters: exact only ("EXIT" not found)
    lib = service.library
    assert [h.photo_id for h in lib.text_hits("panic")] == [ids[11], ids[13]]  # plain boost
