"""OCR-error-tolerant word matching: the lowest tier of a ``text:`` search.

Why: a recogniser now and then misreads one character of a word ("PAHIC" for "PANIC",
"HRISTMAS" for "CHRISTMAS"). On the ICDAR 2015 scene-text set, 22 of 610 query words
were read with exactly one wrong character and so were found nowhere
(docs/benchmarks/ocr-v6-cpu/). So a typed word of at least `NEAR_MIN_CHARS` letters also
matches a read word one edit away (one character inserted, deleted or replaced:
Levenshtein distance 1), always listed after every exact whole-word and substring match,
the way Google Photos and Immich tolerate small OCR errors. Shorter words would match
too many ordinary words ("cat" and "car"); phrases, and scripts written without spaces
(Chinese, Japanese), keep exact matching only.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

NEAR_MIN_CHARS = 5
# One word as SQLite's unicode61 tokenizer cuts it: letters and digits ("_" separates).
_WORD = re.compile(r"[^\W_]+")
# Scripts written without spaces between words (CJK ideographs, kana): substrings match.
UNSPACED = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


def near_eligible(folded: str) -> bool:
    """Whether a folded query may also match words one edit away (one long spaced word)."""
    return (
        len(folded) >= NEAR_MIN_CHARS
        and _WORD.fullmatch(folded) is not None
        and not UNSPACED.search(folded)
    )


def one_edit_apart(a: str, b: str) -> bool:
    """Levenshtein distance exactly 1 (one insertion, deletion or substitution)."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) > len(b):
        a, b = b, a
    i = 0
    while i < len(a) and a[i] == b[i]:
        i += 1
    if len(a) == len(b):
        return a[i + 1 :] == b[i + 1 :]
    return a[i:] == b[i + 1 :]


def near_words(folded: str, vocabulary: Iterable[str]) -> list[str]:
    """The words of `vocabulary` one edit away from the folded query word, sorted."""
    return sorted({w for w in vocabulary if one_edit_apart(folded, w)})


def vocabulary_of(folded: str) -> set[str]:
    """A folded line's words that a tolerant query can reach (one letter shorter at most)."""
    return {w for w in _WORD.findall(folded) if len(w) >= NEAR_MIN_CHARS - 1}


def has_near_word(folded_word: str, folded_line: str) -> bool:
    """Whether the line holds a word one edit away from the word."""
    return any(one_edit_apart(folded_word, w) for w in _WORD.findall(folded_line))


def candidate_ranges(folded: str) -> tuple[str, str]:
    """(prefix, reversed suffix): every word one edit away starts with the prefix or ends
    with the suffix. The one edit falls in the word's first half or its second, and the
    other half is then kept as it is (an insertion at the middle keeps both)."""
    k = len(folded) // 2
    return folded[:k], folded[k:][::-1]
