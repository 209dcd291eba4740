"""What /api/status's library totals cost at N photos, before and after schema v11.

Builds a synthetic schema-v10 library with raw SQL (N photos with 1 KB embeddings, 98%
indexed; 90% with an OCR status, 1% of those stale; 2 tags on every other photo), times
the v10 counting queries, then opens it with `Library` (migrating to v11: totals kept by
trigger) and times the same totals read from `library_counts`.

    python docs/benchmarks/ocr-v6-cpu/status_counts_1m.py /tmp/lib1m.db 1000000
"""

from __future__ import annotations

import os
import sqlite3
import sys
import time
from collections.abc import Callable
from pathlib import Path

from edge_app.library import schema
from edge_app.library.store import Library

NOW = "2026-12-04T00:00:00+00:00"
V10_SQL = {
    "counts_by_status": "SELECT status, COUNT(*) FROM photos WHERE trashed_at IS NULL "
    "GROUP BY status",
    "ocr_counts": "SELECT s.state, COUNT(*) FROM ocr_status s JOIN photos p ON "
    "p.id = s.photo_id AND p.sha256 IS s.sha256 AND p.status = 'indexed' GROUP BY s.state",
    "ocr_counts (indexed)": "SELECT COUNT(*) FROM photos WHERE status = 'indexed'",
    "tag_totals": "SELECT (SELECT COUNT(*) FROM photo_tags), "
    "(SELECT COUNT(DISTINCT photo_id) FROM photo_tags)",
}


def build_v10(db: Path, n: int) -> None:
    conn = sqlite3.connect(db, isolation_level=None)
    schema.migrate(conn, str(db), migrations=schema.MIGRATIONS[:10])
    blob = os.urandom(1024)
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO photos (id, rel_path, sha256, size, mtime_ns, status, embedding, "
        "bundle_id, added_at, indexed_at) VALUES (?, ?, ?, 1000, 1, ?, ?, 'b', ?, ?)",
        (
            (i, f"s/{i:07d}.jpg", f"{i:064x}", "indexed" if i % 50 else "pending", blob, NOW, NOW)
            for i in range(1, n + 1)
        ),
    )
    states = ("done", "no_text", "failed")
    conn.executemany(
        "INSERT INTO ocr_status (photo_id, sha256, state, lines, updated_at) "
        "VALUES (?, ?, ?, 1, ?)",
        (
            (i, "stale" if i % 100 == 1 else f"{i:064x}", states[i % 3], NOW)
            for i in range(1, n + 1)
            if i % 10
        ),
    )
    conn.execute("INSERT INTO label_sets (id, name, created_at) VALUES (1, 'demo', ?)", [NOW])
    conn.executemany(
        "INSERT INTO labels (id, set_id, name, prompts) VALUES (?, 1, ?, '[]')",
        [(k, f"label {k}") for k in (1, 2)],
    )
    conn.executemany(
        "INSERT INTO photo_tags (photo_id, label_id, score, cosine) VALUES (?, ?, 0.5, 0.3)",
        ((i, k) for i in range(1, n + 1, 2) for k in (1, 2)),
    )
    conn.execute("COMMIT")
    conn.close()


def median_ms(read: Callable[[], object], k: int = 7) -> float:
    read()
    times = []
    for _ in range(k):
        t0 = time.perf_counter()
        read()
        times.append(time.perf_counter() - t0)
    return sorted(times)[k // 2] * 1000


def main(db: Path, n: int) -> None:
    if db.exists():
        raise SystemExit(f"{db} exists: give a new path")
    t0 = time.perf_counter()
    build_v10(db, n)
    print(f"built a schema-v10 library of {n} photos in {time.perf_counter() - t0:.0f} s")
    conn = sqlite3.connect(db)
    for name, sql in V10_SQL.items():

        def query(sql: str = sql) -> object:
            return conn.execute(sql).fetchall()

        print(f"v10 {name}: {median_ms(query):.1f} ms -> {query()}")
    conn.close()
    t0 = time.perf_counter()
    lib = Library(db)
    print(f"migration to v{lib.schema_version()}: {time.perf_counter() - t0:.1f} s")
    for name, read in (
        ("counts_by_status", lib.counts_by_status),
        ("ocr_counts", lib.ocr_counts),
        ("tag_totals", lib.tag_totals),
    ):
        print(f"v11 {name}: {median_ms(read):.3f} ms -> {read()}")
    lib.close()
    print("load average:", os.getloadavg())


if __name__ == "__main__":
    main(Path(sys.argv[1]), int(sys.argv[2]))
