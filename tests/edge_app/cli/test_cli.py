"""``edge-app`` commands run in-process through `main(argv)` against a real bundle and data."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from edge_app.cli.main import (
    EXIT_CONFIG,
    EXIT_ENGINE,
    EXIT_OK,
    EXIT_USAGE,
    SUBCOMMANDS,
    build_parser,
    main,
)

N = 8


@pytest.fixture()
def data(tmp_path: Path, shapes_photos: list[tuple[Path, object]]) -> Path:
    library = tmp_path / "data" / "library" / "trip"
    library.mkdir(parents=True)
    for src, _ in shapes_photos[:N]:
        shutil.copy2(src, library / src.name)
    shutil.copy2(shapes_photos[0][0], library / "same_again.jpg")  # an exact duplicate
    (library / "broken.jpg").write_text("not a photo")
    return tmp_path / "data"


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _base(data: Path, bundle: Path) -> list[str]:
    return ["--data-dir", str(data), "--bundle", str(bundle)]


def test_index_search_duplicates_status_json(
    data: Path, tiny_bundle: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = _base(data, tiny_bundle)
    code, out, _ = _run(capsys, *base, "index", "--json")
    report = json.loads(out)
    assert code == EXIT_OK
    assert (report["scanned"], report["encoded"], report["reused"]) == (N + 2, N, 1)
    assert report["errors"] == [
        {"path": "trip/broken.jpg", "reason": "not an image (looks like a text file)"}
    ]

    code, out, _ = _run(capsys, *base, "search", "a red circle", "--limit", "3", "--json")
    hits = json.loads(out)["results"]
    assert code == EXIT_OK and len(hits) == 3
    assert all(h["path"].startswith("trip/") for h in hits)
    assert hits[0]["score"] >= hits[1]["score"] >= hits[2]["score"]

    code, out, _ = _run(capsys, *base, "duplicates", "--threshold", "0.999", "--json")
    groups = json.loads(out)["groups"]
    assert code == EXIT_OK
    dup_paths = sorted(p for g in groups for p in g["paths"])
    assert {"trip/same_again.jpg"} <= set(dup_paths)

    code, out, _ = _run(capsys, *base, "status", "--json")
    status = json.loads(out)
    assert code == EXIT_OK
    assert status["photos"] == {"indexed": N + 1, "pending": 0, "error": 1}
    assert status["bundle"]["model"] == "tiny"


def test_search_by_image_finds_that_photo_first(
    data: Path, tiny_bundle: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = _base(data, tiny_bundle)
    assert _run(capsys, *base, "index")[0] == EXIT_OK
    probe = next((data / "library" / "trip").glob("0003_*.jpg"))
    code, out, _ = _run(capsys, *base, "search", "--image", str(probe), "--json")
    assert code == EXIT_OK
    assert json.loads(out)["results"][0]["path"] == f"trip/{probe.name}"


def test_human_output_and_errors(
    data: Path, tiny_bundle: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = _base(data, tiny_bundle)
    code, out, _ = _run(capsys, *base, "index")
    assert code == EXIT_OK and "(8 encoded, 1 reused)." in out and "trip/broken.jpg" in out
    assert "Tagged " in out or "Tags were already up to date." in out  # enrichment ran
    assert "The bundle has no OCR models" in out  # the tiny bundle: says why no text was read
    code, _, err = _run(capsys, *base, "index", str(tmp_path))
    assert code == EXIT_USAGE and "outside the library" in err
    code, _, err = _run(capsys, *base, "search")
    assert code == EXIT_USAGE and "give a query text" in err
    code, _, err = _run(capsys, *base, "duplicates", "--threshold", "1.5")
    assert code == EXIT_USAGE and "--threshold" in err


def test_missing_bundle_and_config_are_config_errors(
    data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = _run(capsys, *_base(data, tmp_path / "nothing"), "index")
    assert code == EXIT_CONFIG and "edge-build export" in err
    code, _, err = _run(capsys, "--config", str(tmp_path / "missing.toml"), "status")
    assert code == EXIT_CONFIG and "does not exist" in err


def test_broken_bundle_is_an_engine_error(
    data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (bundle / "manifest.json").write_text("{not json")
    code, _, err = _run(capsys, *_base(data, bundle), "index")
    assert code == EXIT_ENGINE and "manifest.json" in err


def test_every_subcommand_has_help() -> None:
    parser = build_parser()
    names = {s.name for s in SUBCOMMANDS}
    assert {"index", "search", "duplicates", "status", "demo"} <= names
    for name in names:
        with pytest.raises(SystemExit) as exc:
            parser.parse_args([name, "--help"])
        assert exc.value.code == 0
