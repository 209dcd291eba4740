"""`edge-app faces ...` and `edge-app search 'person:"Name"'` on a real library.

Real photos (skimage's astronaut, cropped, mirrored, darker; coffee without a face), the
real dlib models, SQLite and FAISS. Each People operation must change what search returns.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from edge_app.cli.main import EXIT_ENGINE, EXIT_ERROR, EXIT_USAGE, main
from edge_app.library.store import Library
from tests.edge_app.faces.faces_fixtures import (
    FACE_PHOTOS,
    scanned_library,
    write_new_face_photo,
)


@pytest.fixture(scope="module")
def scanned(tmp_path_factory: pytest.TempPathFactory, faces_bundle: Path) -> Path:
    """A data dir indexed, People turned on, faces found and grouped (once per module)."""
    return scanned_library(tmp_path_factory.mktemp("faces-cli") / "data", faces_bundle)


@pytest.fixture
def data(scanned: Path, tmp_path: Path) -> Path:
    """A private copy of the scanned data dir (operations change it)."""
    out = tmp_path / "data"
    shutil.copytree(scanned, out)
    return out


def _cli(
    data: Path, bundle: Path, *args: str, capsys: pytest.CaptureFixture[str]
) -> tuple[int, str]:
    capsys.readouterr()
    code = main(["--data-dir", str(data), "--bundle", str(bundle), *args])
    out = capsys.readouterr()
    return code, out.out + out.err


def _search(data: Path, bundle: Path, query: str, capsys: pytest.CaptureFixture[str]) -> list[str]:
    code, out = _cli(data, bundle, "search", query, "--json", capsys=capsys)
    assert code == 0, out
    return sorted(Path(hit["path"]).name for hit in json.loads(out)["results"])


def _people(data: Path, bundle: Path, capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    code, out = _cli(data, bundle, "faces", "people", "--json", capsys=capsys)
    assert code == 0, out
    return list(json.loads(out))


def _her(data: Path, bundle: Path, capsys: pytest.CaptureFixture[str], name: str = "Eileen") -> int:
    people = _people(data, bundle, capsys)
    assert len(people) == 1 and people[0]["faces"] == 3, people  # her three photos, one person
    pid = int(people[0]["id"])
    assert _cli(data, bundle, "faces", "name", str(pid), name, capsys=capsys)[0] == 0
    return pid


def _face_ids(data: Path, person: int) -> list[int]:
    with Library.open_reader(data / "library.db") as lib:
        return [f.id for f in lib.person_faces(person)]


def test_pass_stores_faces_with_box_quality_and_crop(scanned: Path) -> None:
    with Library.open_reader(scanned / "library.db") as lib:
        counts = lib.face_counts()
        assert counts["pending"] == 0 and counts["done"] == 3 and counts["no_faces"] == 1
        photo = lib.find_by_rel_path("astro.jpg")
        assert photo is not None
        best = max(lib.faces_of_photo(photo.id), key=lambda f: f.quality)
    x0, y0, x1, y1 = best.box
    assert 0.3 < x0 < x1 < 0.55 and 0.1 < y0 < y1 < 0.35  # her face, as fractions of the photo
    assert best.quality > 0.5 and best.person_id is not None
    assert (scanned / "thumbs" / str(best.crop_path)).is_file()


def test_naming_makes_person_search_work(
    data: Path, faces_bundle: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = _cli(data, faces_bundle, "search", 'person:"Eileen"', capsys=capsys)
    assert code == EXIT_USAGE and "nobody is named 'Eileen'" in out
    _her(data, faces_bundle, capsys)
    assert _search(data, faces_bundle, 'person:"Eileen"', capsys) == sorted(FACE_PHOTOS)
    assert _search(data, faces_bundle, "person:eileen", capsys) == sorted(FACE_PHOTOS)
    combined = _search(data, faces_bundle, 'person:"Eileen" a red circle', capsys)
    assert combined == sorted(FACE_PHOTOS)  # combinable: a filter plus a ranking term


def test_split_then_merge_change_what_search_returns(
    data: Path, faces_bundle: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    her = _her(data, faces_bundle, capsys)
    moved = _face_ids(data, her)[:1]
    code, out = _cli(data, faces_bundle, "faces", "move", "new", *map(str, moved), capsys=capsys)
    assert code == 0
    other = int(out.strip())
    assert _cli(data, faces_bundle, "faces", "name", str(other), "Someone", capsys=capsys)[0] == 0
    assert len(_search(data, faces_bundle, 'person:"Eileen"', capsys)) == 2
    assert len(_search(data, faces_bundle, 'person:"Someone"', capsys)) == 1
    assert _cli(data, faces_bundle, "faces", "merge", str(her), str(other), capsys=capsys)[0] == 0
    assert _search(data, faces_bundle, 'person:"Eileen"', capsys) == sorted(FACE_PHOTOS)
    code, out = _cli(data, faces_bundle, "search", 'person:"Someone"', capsys=capsys)
    assert code == EXIT_USAGE


def test_not_this_person_sticks_after_regrouping(
    data: Path, faces_bundle: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    her = _her(data, faces_bundle, capsys)
    face = _face_ids(data, her)[-1]
    assert _cli(data, faces_bundle, "faces", "reject", str(face), capsys=capsys)[0] == 0
    assert len(_search(data, faces_bundle, 'person:"Eileen"', capsys)) == 2
    write_new_face_photo(data / "library")  # a new photo: index + pass regroup the leftovers
    assert _cli(data, faces_bundle, "index", "--json", "--no-faces", capsys=capsys)[0] == 0
    assert _cli(data, faces_bundle, "faces", "run", "--json", capsys=capsys)[0] == 0
    found = _search(data, faces_bundle, 'person:"Eileen"', capsys)
    assert len(found) == 3 and "astro_new.jpg" in found  # the new photo joined her...
    assert face not in _face_ids(data, her)  # ...the rejected face did not


def test_forget_deletes_her_faces_and_keeps_her_from_coming_back(
    data: Path, faces_bundle: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    her = _her(data, faces_bundle, capsys)
    crops = [
        data / "thumbs" / c for c in Library.open_reader(data / "library.db").face_crop_paths(her)
    ]
    assert crops and all(c.is_file() for c in crops)
    code, out = _cli(data, faces_bundle, "faces", "forget", str(her), capsys=capsys)
    assert code == EXIT_ERROR and "--yes" in out  # a deletion needs confirming
    assert _cli(data, faces_bundle, "faces", "forget", str(her), "--yes", capsys=capsys)[0] == 0
    assert not any(c.exists() for c in crops)
    assert _cli(data, faces_bundle, "search", 'person:"Eileen"', capsys=capsys)[0] == EXIT_USAGE
    write_new_face_photo(data / "library")
    assert _cli(data, faces_bundle, "index", "--json", "--no-faces", capsys=capsys)[0] == 0
    code, out = _cli(data, faces_bundle, "faces", "run", "--json", capsys=capsys)
    report = json.loads(out)
    assert report["dropped_forgotten"] == 1 and report["new_people"] == 0
    assert _people(data, faces_bundle, capsys) == []


def test_turning_off_deletes_every_face_and_crop(
    data: Path, faces_bundle: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _her(data, faces_bundle, capsys)
    assert _cli(data, faces_bundle, "faces", "off", capsys=capsys)[0] == EXIT_ERROR  # needs --yes
    assert _cli(data, faces_bundle, "faces", "off", "--yes", capsys=capsys)[0] == 0
    assert not (data / "thumbs" / "faces").exists()
    with Library.open_reader(data / "library.db") as lib:
        counts = lib.face_counts()
        stored = lib._rows("SELECT (SELECT COUNT(*) FROM faces) + (SELECT COUNT(*) FROM people) "
                           "+ (SELECT COUNT(*) FROM forgotten_people) AS n")[0]["n"]  # fmt: skip
    assert counts["faces"] == 0 and counts["people"] == 0 and stored == 0
    code, out = _cli(data, faces_bundle, "search", 'person:"Eileen"', capsys=capsys)
    assert code == EXIT_USAGE and "turned off" in out
    assert _cli(data, faces_bundle, "faces", "run", capsys=capsys)[0] == EXIT_ERROR
    assert _search(data, faces_bundle, "a red circle", capsys)  # the rest of the box works


def test_damaged_face_model_is_a_clear_error_and_search_still_works(
    data: Path, faces_bundle: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bundle = tmp_path / "bundle"
    shutil.copytree(faces_bundle, bundle)
    (bundle / "faces" / "shape_predictor_5_face_landmarks.dat").write_bytes(b"not a model")
    write_new_face_photo(data / "library")
    code, out = _cli(data, bundle, "index", capsys=capsys)  # indexed; the face pass refused
    assert code == 0 and "No faces found: face model landmarks5" in out and "damaged" in out
    code, out = _cli(data, bundle, "faces", "run", capsys=capsys)
    assert code == EXIT_ENGINE
    assert "landmarks5" in out and "damaged" in out and "edge-build add-faces" in out
    assert "astro_new.jpg" in _search(data, bundle, "a red circle", capsys)


def test_unreadable_photo_is_marked_failed_with_a_reason(
    data: Path, faces_bundle: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_new_face_photo(data / "library")
    write_new_face_photo(data / "library", "astro_other.jpg")
    assert _cli(data, faces_bundle, "index", "--json", "--no-faces", capsys=capsys)[0] == 0
    (data / "library" / "astro_new.jpg").write_bytes(b"\xff\xd8 truncated")  # after indexing
    code, out = _cli(data, faces_bundle, "faces", "run", "--json", capsys=capsys)
    assert code == 0
    report = json.loads(out)
    assert report["failed"] == 1 and report["done"] == 1 and report["library"]["pending"] == 0
    assert report["failures"][0]["path"] == "astro_new.jpg" and report["failures"][0]["reason"]
