"""A photo library that looks like a person's: two folders, EXIF dates, cameras and GPS.

The 48 generated shape JPEGs are written twice: ``2024/trip/`` re-saved with EXIF (taken
date one hour apart from 2024-05-01, camera make/model as Nikon and Canon firmware write
them, GPS in Paris or Lyon), and ``scans/`` as plain copies (no EXIF: dated by file time,
set to 2019). 96 photos: more than one page of the home grid.
"""

from __future__ import annotations

import os
import shutil
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from PIL import Image

from tests.edge_app.search.test_places import _dms

TRIP_START = datetime(2024, 5, 1, 8, 0)
PARIS = (48.85837, 2.29448)
LYON = (45.76404, 4.83566)
CAMERAS = [
    ("NIKON CORPORATION", "NIKON D750"),
    ("Nikon", "D5300"),
    ("Canon", "Canon EOS 5D"),
    ("456 123", "789"),
]
SCAN_MTIME = datetime(2019, 3, 2, 12, 0).timestamp()


def _exif(i: int) -> Image.Exif:
    exif = Image.Exif()
    exif[0x010F], exif[0x0110] = CAMERAS[i % len(CAMERAS)]
    taken = (TRIP_START + timedelta(hours=i)).strftime("%Y:%m:%d %H:%M:%S")
    exif.get_ifd(0x8769)[0x9003] = taken
    lat, lon = PARIS if i % 2 == 0 else LYON
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2], gps[3], gps[4] = "N", _dms(lat), "E", _dms(lon)
    return exif


def build_library(shapes: list[tuple[Path, Any]], library: Path) -> dict[str, list[str]]:
    """Write the library; returns folder -> file names."""
    trip, scans = library / "2024" / "trip", library / "scans"
    trip.mkdir(parents=True, exist_ok=True)
    scans.mkdir(parents=True, exist_ok=True)
    for i, (path, _spec) in enumerate(shapes):
        with Image.open(path) as im:
            im.save(trip / path.name, "JPEG", quality=92, exif=_exif(i))
        copy = scans / f"scan-{path.name}"
        shutil.copy2(path, copy)
        os.utime(copy, (SCAN_MTIME, SCAN_MTIME))
    return {
        "2024/trip": [p.name for p, _ in shapes],
        "scans": [f"scan-{p.name}" for p, _ in shapes],
    }
