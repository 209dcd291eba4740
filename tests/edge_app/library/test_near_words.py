"""OCR-error-tolerant matching: one edit away, 5+ letters, below every exact match."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from edge_app.library import schema as library_schema
from edge_app.library.near_words import (
    candidate_ranges,
    near_eligible,
    near_words,
    one_edit_apart,
)
from edge_app.library.ocr_store import NEAR, OcrLineRow
from edge_app.library.store import Library


def test_one_edit_apart_is_levenshtein_distance_one() -> None:
    assert one_edit_apart("panic", "pahic")  # replaced
    assert one_edit_apart("christmas", "hristmas")  # deleted (first letter)
    assert one_edit_apart("storey", "store") and one_edit_apart("store", "storey")
    assert one_edit_apart("globe", "glebe")
    assert not one_edit_apart("panic", "panic")  # equal is an exact match, not a near one
    assert not one_edit_apart("panic", "pahik")  # two edits
    assert not one_edit_apart("panic", "pani_cs")
    assert not one_edit_apart("panic", "nicpa")


def test_only_single_long_spaced_words_are_tolerant() -> None:
    assert near_eligible("panic") and near_eligible("4711b")
    assert not near_eligible("pain")  # 4 letters: too many ordinary words one edit away
    assert not near_eligible("dont panic")  # phrases match as phrases
    assert not near_eligible("www.shop")  # not one word
    assert not near_eligible("北京大学图书馆")  # no spaces in Chinese: substrings only
    assert near_words("panic", ["pahic", "panic", "panics", "manic", "pa"]) == [
        "manic", "pahic", "panics",
    ]  # fmt: skip


def test_every_word_one_edit_away_is_in_the_two_ranges() -> None:
    """The vocabulary lookup scans words starting with the prefix and words ending with
    the suffix: every insertion, deletion and substitution must land in one of them."""
    for word in ("panic", "storey", "christmas", "abcdefghij"):
        prefix, xiffus = candidate_ranges(word)
        variants = {word[:i] + word[i + 1 :] for i in range(len(word))}
        for i in range(len(word) + 1):
            variants |= {word[:i] + c + word[i:] for c in "az"}
            variants |= {word[:i] + c + word[i + 1 :] for c in "az" if i < len(word)}
        variants.discard(word)
        assert all(one_edit_apart(word, v) for v in variants)
        missed = [v for v in variants if not (v.startswith(prefix) or v[::-1].startswith(xiffus))]
        assert missed == [], (word, missed)


def _library_v10_with_a_line(path: Path) -> None:
    conn = sqlite3.connect(path)
    library_schema.migrate(conn, "v10", migrations=library_schema.MIGRATIONS[:10])
    conn.execute(
        "INSERT INTO photos (rel_path, status, added_at, sha256) VALUES ('a.jpg', 'indexed', 'x', 'h')"
    )
    conn.execute(
        "INSERT INTO ocr_status (photo_id, sha256, state, lines, updated_at) "
        "VALUES (1, 'h', 'done', 1, 'x')"
    )
    conn.execute(
        "INSERT INTO ocr_lines (photo_id, line_no, text, folded, score, box) "
        "VALUES (1, 0, 'DONT PAHIC', 'dont pahic', 0.9, '[]')"
    )
    conn.commit()
    conn.close()


def test_lines_read_before_v11_are_found_one_edit_off_and_kept_in_step(tmp_path: Path) -> None:
    path = tmp_path / "v10.db"
    _library_v10_with_a_line(path)
    with Library(path) as lib:
        assert lib.schema_version() == library_schema.SCHEMA_VERSION >= 11
        assert lib.text_hits("panic") == []  # exact matching is unchanged
        hits = lib.text_hits("panic", near=True)
        assert [(h.photo_id, h.line, h.rank) for h in hits] == [(1, "DONT PAHIC", NEAR)]
        lib.record_ocr(1, "h", "done", [OcrLineRow("CLOSED", 0.8, ())])  # lines replaced
        assert lib.text_hits("panic", near=True) == []
        assert [h.line for h in lib.text_hits("closer", near=True)] == ["CLOSED"]
        lib.record_ocr(1, "stale-sha", "done", [OcrLineRow("PAHIC", 0.8, ())])  # old content
        assert lib.text_hits("panic", near=True) == []  # stale text is never listed
