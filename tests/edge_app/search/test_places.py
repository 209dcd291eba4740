"""Offline reverse geocoding of real JPEGs whose GPS EXIF was written with Pillow's Exif API."""

from __future__ import annotations

import math
import socket
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from edge_app.errors import QueryError
from edge_app.indexing.imaging import read_exif
from edge_app.search import geonames, places
from edge_app.search.places import lookup, lookup_one

# (lat, lon) of well-known spots -> the city a person expects
KNOWN = [
    ((48.85837, 2.29448), "Paris", "France"),  # Eiffel Tower: a suburb is nearer
    ((45.76404, 4.83566), "Lyon", "France"),  # GeoNames says "Lyon 03"
    ((-33.85678, 151.21530), "Sydney", "Australia"),
    ((40.68925, -74.04450), "New York City", "United States"),  # Statue of Liberty (west, south)
    ((46.02070, 7.74912), "Zermatt", "Switzerland"),  # a small town: no big city within 25 km
    ((-22.95192, -43.21049), "Rio de Janeiro", "Brazil"),
]


def _dms(value: float) -> tuple[Fraction, Fraction, Fraction]:
    deg = int(value)
    minutes_f = (value - deg) * 60
    minutes = int(minutes_f)
    seconds = Fraction(round((minutes_f - minutes) * 60 * 1000), 1000)
    return Fraction(deg), Fraction(minutes), seconds


def write_gps_jpeg(path: Path, lat: float, lon: float) -> Path:
    """A real JPEG with a GPS IFD, as a phone writes it (DMS rationals + N/S/E/W refs)."""
    exif = Image.Exif()
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2] = ("N" if lat >= 0 else "S"), _dms(abs(lat))
    gps[3], gps[4] = ("E" if lon >= 0 else "W"), _dms(abs(lon))
    Image.new("RGB", (64, 48), (90, 140, 200)).save(path, "JPEG", exif=exif)
    return path


@pytest.fixture()
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to open a socket fails the test: the geocoder must be offline."""

    def refuse(*_args: object, **_kw: object) -> None:
        raise AssertionError("reverse geocoding tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)


@pytest.mark.parametrize(("point", "city", "country"), KNOWN)
def test_fixture_jpeg_gps_gives_the_right_city(
    tmp_path: Path, no_network: None, point: tuple[float, float], city: str, country: str
) -> None:
    path = write_gps_jpeg(tmp_path / "gps.jpg", *point)
    with Image.open(path) as im:
        info, notes = read_exif(im)
    assert notes == ()
    assert info.gps_lat == pytest.approx(point[0], abs=1e-4)
    assert info.gps_lon == pytest.approx(point[1], abs=1e-4)
    assert info.gps_lat is not None and info.gps_lon is not None
    place = lookup_one(info.gps_lat, info.gps_lon)
    assert (place.city, place.country) == (city, country)
    assert place.label.startswith(city) and place.label.endswith(country)


def test_batch_lookup_keeps_order_and_bad_positions_are_refused() -> None:
    got = lookup([p for p, _c, _k in KNOWN])
    assert [g.city for g in got] == [c for _p, c, _k in KNOWN]
    assert lookup([]) == []
    with pytest.raises(QueryError, match="not a GPS position"):
        lookup([(91.0, 0.0)])
    with pytest.raises(QueryError, match="not a GPS position"):
        lookup([(float("nan"), 2.0)])


def test_table_is_compact_and_the_package_stays_out_of_the_process() -> None:
    """The child parses the package's dicts; this process gets ~20 MB of arrays."""
    table = geonames.load()
    arrays = [table.xyz, table.population, table.country_code, table.city_utf8, table.city_end]
    assert len(table.population) > 100_000
    assert sum(a.nbytes for a in arrays) < 30 * 2**20
    probe = (
        "import sys; from edge_app.search.places import lookup_one; "
        "print(lookup_one(45.764, 4.836).city, 'reverse_geocode' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["Lyon", "False"]


def test_nearest_place_is_never_farther_than_the_packages_own() -> None:
    import reverse_geocode  # the reference: its nearest by (lat, lon) distance

    rng = np.random.default_rng(5)
    points = [
        (float(a), float(b))
        for a, b in zip(rng.uniform(-60, 70, 200), rng.uniform(-180, 180, 200), strict=True)
    ]
    xyz = geonames.unit_vectors(*map(np.array, zip(*points, strict=True)))
    ours_km, _ = places._Index().nearest(xyz, big=False)  # km from the tree's chord length
    theirs = reverse_geocode.search(points)
    for p, km, ref in zip(points, ours_km, theirs, strict=True):
        assert km <= _haversine_km(p, (ref["latitude"], ref["longitude"])) + 1e-6


def _haversine_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * places.EARTH_RADIUS_KM * math.asin(math.sqrt(h))
