"""OCR SQL of the library: per-photo OCR status, recognised lines, trigram full-text index.

Why trigram FTS5: it indexes every 3-character window, so a search finds Chinese
substrings (no word boundaries) and parts of English words or part numbers alike,
case-insensitively. Trigram cannot match queries shorter than 3 characters: those use
``LIKE`` over the lines instead (a scan of the recognised text, fine for an appliance
library; documented in docs/API.md).

A status row records the photo's sha256, so a changed file is read again, and its
lines are replaced in the same transaction as the status (kill -9 safe, never doubled).

Ranking of the matches (`match_rank`): the phrase as whole words (case- and
accent-insensitive: "the" in "The end", "cafe" in "Café") beats the phrase inside a longer
word ("the" in "Theatre"); recognition confidence breaks ties. Chinese and Japanese are
written without spaces: there any substring is a whole match. Asked for (``near=True``,
what ``text:`` does), a word of 5+ letters also finds words read one character off
(`edge_app.library.near_words`), in a tier below both.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from edge_app.errors import LibraryError
from edge_app.library.connection import SqliteStore
from edge_app.library.counters import OCR_STATES
from edge_app.library.near_words import (
    UNSPACED,
    candidate_ranges,
    has_near_word,
    near_eligible,
    near_words,
    vocabulary_of,
)
from edge_app.library.records import PendingPhoto, utc_now
from edge_app.library.text_fold import fold

MIN_TRIGRAM = 3
# match_rank: the phrase as whole words / inside a longer word / a word one edit away
WHOLE, INSIDE, NEAR = 3, 2, 1

# A line counts only while its status row matches the photo's current content.
# CROSS JOIN fixes the join order (SQLite keeps it): start from the matching lines. Left
# free, the planner walked every indexed photo first: 12 ms at 100k photos, ~120 ms at 1M,
# on every plain search (docs/benchmarks/daemon-1m).
_CURRENT = (
    "CROSS JOIN ocr_status s ON s.photo_id = l.photo_id CROSS JOIN photos p "
    "ON p.id = l.photo_id AND p.status = 'indexed' AND p.sha256 IS s.sha256 "
    "AND p.trashed_at IS NULL"
)


@dataclass(frozen=True)
class OcrLineRow:
    """One recognised line: text, confidence, box corners (pixels of the upright photo)."""

    text: str
    score: float
    box: tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class OcrStatus:
    photo_id: int
    sha256: str | None
    state: str
    reason: str | None
    engine: str | None
    lines: int
    seconds: float | None
    updated_at: str


@dataclass(frozen=True)
class TextHit:
    """A photo whose recognised text contains the searched phrase."""

    photo_id: int
    score: float  # confidence of its best matching line
    line: str
    rank: int = WHOLE  # WHOLE or INSIDE (`match_rank` of that line), or NEAR

    @property
    def order(self) -> tuple[int, float, int]:
        """Sort key: whole words, then inside words, then one edit off; then confidence, id."""
        return (-self.rank, -self.score, self.photo_id)


def match_rank(phrase: str, line: str) -> int:
    """WHOLE when `phrase` occurs in `line` as whole words, INSIDE when only within a longer
    word, 0 when not at all (both folded; unspaced scripts: any occurrence is WHOLE)."""
    p, t = fold(phrase), fold(line)
    if not p or p not in t:
        return 0
    if UNSPACED.search(p) or re.search(rf"(?<!\w){re.escape(p)}(?!\w)", t):
        return WHOLE
    return INSIDE


class OcrStore(SqliteStore):
    """OCR status and text (part of `Library`; all OCR statements are here)."""

    def photos_needing_ocr(self, limit: int | None = None) -> list[PendingPhoto]:
        """Indexed photos without an OCR status for their current content, by id."""
        return self.pending_photos("ocr_status", limit)

    def record_ocr(
        self, photo_id: int, sha256: str | None, state: str, lines: Sequence[OcrLineRow] = (),
        *, reason: str | None = None, engine: str | None = None, seconds: float | None = None,
    ) -> None:  # fmt: skip
        """Replace the photo's lines and status in ONE transaction (never doubled)."""
        if state not in OCR_STATES:
            raise LibraryError(f"OCR state must be one of {OCR_STATES}, got {state!r}")
        with self.transaction():
            self._exec("DELETE FROM ocr_lines WHERE photo_id = ?", [photo_id])
            for i, line in enumerate(lines):
                self._exec(
                    "INSERT INTO ocr_lines (photo_id, line_no, text, folded, score, box) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    [photo_id, i, line.text, fold(line.text), line.score, json.dumps(line.box)],
                )
            words = set().union(*(vocabulary_of(fold(line.text)) for line in lines))
            self.db.conn.executemany(
                "INSERT OR IGNORE INTO ocr_vocab (word, drow) VALUES (?, ?)",
                [(w, w[::-1]) for w in sorted(words)],
            )
            self._exec(
                "INSERT INTO ocr_status (photo_id, sha256, state, reason, engine, lines, "
                "seconds, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(photo_id) "
                "DO UPDATE SET sha256 = excluded.sha256, state = excluded.state, reason = "
                "excluded.reason, engine = excluded.engine, lines = excluded.lines, "
                "seconds = excluded.seconds, updated_at = excluded.updated_at",
                [photo_id, sha256, state, reason, engine, len(lines), seconds, utc_now()],
            )

    def check_ocr_index(self) -> int:
        """FTS5 integrity check of the text index against the lines; returns the line count."""
        try:
            with self.transaction():
                self._exec("INSERT INTO ocr_fts(ocr_fts, rank) VALUES ('integrity-check', 1)")
        except Exception as exc:
            raise LibraryError(
                f"the OCR text index does not match the recognised lines ({exc}): "
                "run `edge-app ocr --rebuild-index`"
            ) from exc
        return int(self._rows("SELECT COUNT(*) AS n FROM ocr_lines")[0]["n"])

    def ocr_status(self, photo_id: int) -> OcrStatus | None:
        rows = self._rows("SELECT * FROM ocr_status WHERE photo_id = ?", [photo_id])
        return OcrStatus(**rows[0]) if rows else None

    def ocr_lines(self, photo_id: int) -> list[OcrLineRow]:
        rows = self._rows(
            "SELECT text, score, box FROM ocr_lines WHERE photo_id = ? ORDER BY line_no",
            [photo_id],
        )
        return [
            OcrLineRow(r["text"], float(r["score"]), tuple(tuple(p) for p in json.loads(r["box"])))
            for r in rows
        ]

    def ocr_counts(self) -> dict[str, int]:
        """done / no_text / failed for current content, and pending (indexed, not read yet)."""
        counts = self.library_counts()
        done = {s: counts[f"ocr:{s}"] for s in OCR_STATES}
        return {**done, "pending": counts["indexed"] - sum(done.values())}

    def ocr_failures(self, limit: int = 20) -> list[tuple[str, str]]:
        rows = self._rows(
            "SELECT p.rel_path, s.reason FROM ocr_status s JOIN photos p ON p.id = s.photo_id "
            "WHERE s.state = 'failed' ORDER BY p.rel_path LIMIT ?",
            [limit],
        )
        return [(r["rel_path"], r["reason"] or "") for r in rows]

    def text_hits(self, phrase: str, *, near: bool = False) -> list[TextHit]:
        """Photos whose current text contains `phrase` (case-insensitive), best match first.

        Each photo's best line is its best `match_rank`, then confidence; photos are in
        `TextHit.order`: whole-word matches first, then confidence, then photo id. With
        `near`, photos that only hold a word one edit away follow (`near_words`).
        """
        phrase = " ".join(phrase.split())
        folded = fold(phrase)
        if not folded:
            return []
        exact = self._exact_hits(phrase, folded)
        if not near or not near_eligible(folded):
            return exact
        found = {h.photo_id for h in exact}
        return exact + [h for h in self._near_hits(folded) if h.photo_id not in found]

    def _near_hits(self, folded: str) -> list[TextHit]:
        """Photos with a word one edit away from the folded word: the vocabulary's words
        by two range scans (`candidate_ranges`), then their lines by the trigram index."""
        prefix, xiffus = candidate_ranges(folded)
        rows = self._rows(
            "SELECT word FROM ocr_vocab WHERE word >= :p AND word < :p || :top "
            "UNION SELECT word FROM ocr_vocab WHERE drow >= :s AND drow < :s || :top",
            {"p": prefix, "s": xiffus, "top": "\U0010ffff"},
        )
        terms = near_words(folded, (str(r["word"]) for r in rows))
        if not terms:
            return []
        lines = self._rows(
            f"SELECT l.photo_id, l.score, l.text, l.folded FROM ocr_lines l {_CURRENT} "
            "WHERE l.id IN (SELECT rowid FROM ocr_fts WHERE ocr_fts MATCH :q)",
            {"q": " OR ".join(f'"{t}"' for t in terms)},
        )
        best: dict[int, TextHit] = {}
        for r in lines:
            if not has_near_word(folded, str(r["folded"])):
                continue  # the word only inside a longer one
            hit = TextHit(int(r["photo_id"]), float(r["score"]), str(r["text"]), NEAR)
            if hit.photo_id not in best or hit.order < best[hit.photo_id].order:
                best[hit.photo_id] = hit
        return sorted(best.values(), key=lambda h: h.order)

    def _exact_hits(self, phrase: str, folded: str) -> list[TextHit]:
        if len(folded) >= MIN_TRIGRAM:
            match = "l.id IN (SELECT rowid FROM ocr_fts WHERE ocr_fts MATCH :q)"
            params = {"q": '"' + folded.replace('"', '""') + '"'}
        else:  # trigram needs 3 characters: scan with LIKE (ESCAPE keeps % and _ literal)
            match = "l.folded LIKE :q ESCAPE '\\'"
            escaped = folded.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            params = {"q": f"%{escaped}%"}
        rows = self._rows(
            f"SELECT l.photo_id, l.score, l.text FROM ocr_lines l {_CURRENT} WHERE {match}",
            params,
        )
        found = ((int(r["photo_id"]), float(r["score"]), str(r["text"])) for r in rows)
        return best_hits(phrase, found)


def best_hits(phrase: str, lines: Iterable[tuple[int, float, str]]) -> list[TextHit]:
    """(photo id, confidence, text) of lines that contain `phrase` -> one best `TextHit` per
    photo, in `TextHit.order` (also what `edge-bench ocr` ranks by). A line the text index
    matched but folding does not (rare case-folding differences) counts as INSIDE."""
    best: dict[int, TextHit] = {}
    for photo_id, score, text in lines:
        hit = TextHit(photo_id, score, text, match_rank(phrase, text) or INSIDE)
        if photo_id not in best or hit.order < best[photo_id].order:
            best[photo_id] = hit
    return sorted(best.values(), key=lambda h: h.order)
