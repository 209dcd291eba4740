"""The browse reads of the real SQLite library: timeline order, folder tree, prefix filter, id allow-list."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from edge_app.library.records import PhotoFilter, PhotoMeta
from edge_app.library.store import Library

NS = 1_000_000_000


def _vec(seed: int) -> np.ndarray:
    v = np.random.default_rng(seed).standard_normal(8).astype(np.float32)
    return v / np.linalg.norm(v)


@pytest.fixture
def lib(tmp_path: Path) -> Library:
    lib = Library(tmp_path / "library.db")
    rows = [
        # (rel_path, taken_at, mtime seconds)
        ("2023/holiday/beach.jpg", datetime(2023, 7, 14, 18, 3), 1_700_000_000),
        ("2023/holiday/day2/sea.jpg", datetime(2023, 7, 15, 9, 0), 1_700_000_000),
        ("20231/other.jpg", datetime(2022, 1, 1, 12, 0), 1_700_000_000),
        ("scan.jpg", None, 1_720_000_000),  # no EXIF date: sorted by file date (2024-07-03)
        ("old/no-exif.png", None, 1_500_000_000),  # 2017
    ]
    for i, (rel, taken, mtime) in enumerate(rows):
        meta = PhotoMeta(rel_path=rel, size=100, mtime_ns=mtime * NS, taken_at=taken,
                         camera_make="NIKON CORPORATION" if i % 2 else None)  # fmt: skip
        lib.record_photo(meta, _vec(i), "b1")
    return lib


def test_timeline_is_newest_first_with_file_date_fallback(lib: Library) -> None:
    got = [(p.rel_path, shown[:10]) for p, shown in lib.timeline()]
    assert [r for r, _ in got] == [
        "scan.jpg",
        "2023/holiday/day2/sea.jpg",
        "2023/holiday/beach.jpg",
        "20231/other.jpg",
        "old/no-exif.png",
    ]
    assert dict(got)["2023/holiday/beach.jpg"] == "2023-07-14"
    assert dict(got)["old/no-exif.png"].startswith("2017-07")


def test_timeline_pages_do_not_overlap(lib: Library) -> None:
    first = [p.id for p, _ in lib.timeline(limit=2, offset=0)]
    second = [p.id for p, _ in lib.timeline(limit=2, offset=2)]
    rest = [p.id for p, _ in lib.timeline(limit=10, offset=4)]
    assert len(set(first + second + rest)) == 5


def test_folder_prefix_matches_folder_and_below_only(lib: Library) -> None:
    names = lambda flt: sorted(p.rel_path for p, _ in lib.timeline(flt))  # noqa: E731
    assert names(PhotoFilter(folder="2023")) == [
        "2023/holiday/beach.jpg",
        "2023/holiday/day2/sea.jpg",
    ]
    assert names(PhotoFilter(folder="2023/holiday/day2/")) == ["2023/holiday/day2/sea.jpg"]
    assert "20231/other.jpg" not in names(PhotoFilter(folder="2023"))


def test_folder_counts_camera_and_gps_rows(lib: Library) -> None:
    assert lib.folder_counts() == {
        "2023/holiday": 1,
        "2023/holiday/day2": 1,
        "20231": 1,
        "": 1,
        "old": 1,
    }
    assert [make for _i, make, _m in lib.camera_rows()] == ["NIKON CORPORATION"] * 2
    assert lib.place_rows() == []


def test_id_allow_list_combines_with_other_filters(lib: Library) -> None:
    ids = [p.id for p, _ in lib.timeline()]
    flt = PhotoFilter(ids=(ids[0], ids[1]), folder="2023")
    assert [p.id for p, _ in lib.timeline(flt)] == [ids[1]]
    assert lib.filter_ids(PhotoFilter(ids=())).size == 0
    assert not PhotoFilter(ids=()).is_empty
