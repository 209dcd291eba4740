"""What the OCR-error-tolerant tier adds to a text: search on a library with a big vocabulary.

Builds N photos with 3 recognised lines each, two random words per line (so ~6N distinct
words: a pessimistic vocabulary, real text repeats words), then times `text_hits` for a
word that is not in the library, exact only and with ``near=True``.

    python docs/benchmarks/ocr-v6-cpu/near_cost.py /tmp/near.db 100000
"""

from __future__ import annotations

import os
import random
import string
import sys
import time
from pathlib import Path

from edge_app.library.near_words import vocabulary_of
from edge_app.library.store import Library

NOW = "2026-12-04T00:00:00+00:00"


def _word(rng: random.Random) -> str:
    return "".join(rng.choices(string.ascii_lowercase, k=rng.randint(4, 9)))


def build(lib: Library, n: int) -> None:
    rng = random.Random(1)
    with lib.transaction():
        lib.db.conn.executemany(
            "INSERT INTO photos (id, rel_path, sha256, status, added_at) "
            "VALUES (?, ?, ?, 'indexed', ?)",
            ((i, f"{i}.jpg", f"{i:064x}", NOW) for i in range(1, n + 1)),
        )
        lib.db.conn.executemany(
            "INSERT INTO ocr_status (photo_id, sha256, state, lines, updated_at) "
            "VALUES (?, ?, 'done', 3, ?)",
            ((i, f"{i:064x}", NOW) for i in range(1, n + 1)),
        )
        rows = []
        for i in range(1, n + 1):
            for k in range(3):
                text = f"{_word(rng)} {_word(rng)}"
                rows.append((i, k, text.upper(), text, 0.9, "[]"))
        lib.db.conn.executemany(
            "INSERT INTO ocr_lines (photo_id, line_no, text, folded, score, box) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            rows,
        )
        words = set().union(*(vocabulary_of(r[3]) for r in rows))
        lib.db.conn.executemany(
            "INSERT INTO ocr_vocab (word, drow) VALUES (?, ?)", [(w, w[::-1]) for w in words]
        )


def median_ms(lib: Library, word: str, near: bool, k: int = 7) -> float:
    times = []
    for _ in range(k):
        t0 = time.perf_counter()
        lib.text_hits(word, near=near)
        times.append(time.perf_counter() - t0)
    return sorted(times)[k // 2] * 1000


def main(db: Path, n: int) -> None:
    lib = Library(db)
    t0 = time.perf_counter()
    build(lib, n)
    vocab = lib._rows("SELECT COUNT(*) AS n FROM ocr_vocab")[0]["n"]
    print(
        f"{n} photos, {3 * n} lines, {vocab} distinct words (4+ letters) in {time.perf_counter() - t0:.0f} s"
    )
    first = lib._rows("SELECT folded FROM ocr_lines WHERE id = 1")[0]["folded"].split()[0]
    misread = first[:2] + ("x" if first[2] != "x" else "y") + first[3:]  # one letter off
    for word in ("panicking", "storey", misread):
        exact, near = median_ms(lib, word, False), median_ms(lib, word, True)
        found = len(lib.text_hits(word, near=True))
        print(f"text:{word}: exact {exact:.1f} ms, with near {near:.1f} ms ({found} photos)")
    lib.close()
    print("load average:", os.getloadavg())


if __name__ == "__main__":
    main(Path(sys.argv[1]), int(sys.argv[2]))
