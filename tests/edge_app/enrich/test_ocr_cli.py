"""`edge-app index`, `edge-app ocr`, `edge-app search 'text:"WORD"'` with the real PP-OCR models.

Real photos (scikit-image's) with words drawn in DejaVu (Latin) and Noto CJK (Chinese),
a real SQLite library, real FAISS and the bundle's ONNX/OpenVINO runners.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edge_app.cli.main import main
from edge_app.library.store import Library
from tests.edge_app.enrich.ocr_fixtures import NO_TEXT, damaged_ocr_copy, write_text_photos


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory, ocr_bundle: Path) -> tuple[Path, Path]:
    """A data dir whose library was indexed with `edge-app index` (which reads the text
    too, like the daemon: no `edge-app ocr` needed)."""
    data = tmp_path_factory.mktemp("ocr-cli")
    write_text_photos(data / "library")
    base = ["--data-dir", str(data), "--bundle", str(ocr_bundle)]
    assert main([*base, "index", "--json"]) == 0
    return data, ocr_bundle


def _search(data: Path, bundle: Path, query: str, capsys: pytest.CaptureFixture[str]) -> list[str]:
    capsys.readouterr()
    code = main(["--data-dir", str(data), "--bundle", str(bundle), "search", query, "--json"])
    assert code == 0
    return [Path(hit["path"]).name for hit in json.loads(capsys.readouterr().out)["results"]]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ('text:"WAREHOUSE"', "sign_en.jpg"),
        ("text:warehouse", "sign_en.jpg"),  # case-insensitive
        ('text:"part 4711"', "label_part.jpg"),
        ("text:4711", "label_part.jpg"),
        ('text:"欢迎光临"', "shop_zh.jpg"),
        ('text:"光临"', "shop_zh.jpg"),  # a 2-character Chinese substring (LIKE path)
        ('text:"中国银行"', "bank_zh.jpg"),
        ("text:银行", "bank_zh.jpg"),
    ],
)
def test_text_query_returns_that_photo_first(
    indexed: tuple[Path, Path], query: str, expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    names = _search(*indexed, query, capsys)
    assert names[:1] == [expected]
    assert len(names) == 1  # a text: filter keeps only photos whose text matches


def test_plain_query_ranks_the_text_match_first(
    indexed: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    names = _search(*indexed, "warehouse", capsys)
    assert names[0] == "sign_en.jpg"
    assert len(names) == 5  # the others follow by meaning


def test_photo_without_text_is_marked_no_text(indexed: tuple[Path, Path]) -> None:
    data, _ = indexed
    with Library.open_reader(data / "library.db") as lib:
        photo = lib.find_by_rel_path(NO_TEXT[0])
        assert photo is not None
        status = lib.ocr_status(photo.id)
        assert status is not None and status.state == "no_text" and status.lines == 0
        assert lib.ocr_counts() == {"done": 4, "no_text": 1, "failed": 0, "pending": 0}


def test_second_run_reads_nothing_again(
    indexed: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    data, bundle = indexed
    capsys.readouterr()
    assert main(["--data-dir", str(data), "--bundle", str(bundle), "ocr", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["done"], report["no_text"], report["failed"]) == (0, 0, 0)


def test_unreadable_photo_is_marked_failed_with_reason(
    tmp_path: Path, ocr_bundle: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    photos = write_text_photos(tmp_path / "data" / "library")
    base = ["--data-dir", str(tmp_path / "data"), "--bundle", str(ocr_bundle)]
    assert main([*base, "index", "--json", "--no-ocr"]) == 0
    photos["sign_en.jpg"].write_bytes(photos["sign_en.jpg"].read_bytes()[:200])  # damaged later
    capsys.readouterr()
    assert main([*base, "ocr", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["failed"] == 1 and "damaged image" in report["failures"][0]["reason"]
    assert report["library"] == {"done": 3, "no_text": 1, "failed": 1, "pending": 0}
    with Library.open_reader(tmp_path / "data" / "library.db") as lib:
        photo = lib.find_by_rel_path("sign_en.jpg")
        assert photo is not None
        status = lib.ocr_status(photo.id)
        assert status is not None and status.state == "failed" and status.reason


def test_damaged_ocr_model_is_a_clear_error_and_search_still_works(
    indexed: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data, bundle = indexed
    broken = damaged_ocr_copy(bundle, tmp_path / "bundle")
    base = ["--data-dir", str(data), "--bundle", str(broken)]
    capsys.readouterr()
    assert main([*base, "ocr"]) == 3
    err = capsys.readouterr().err
    assert "ocr_rec_fp32.onnx" in err and "does not match" in err and "OCR is off" in err
    assert _search(data, broken, 'text:"WAREHOUSE"', capsys) == ["sign_en.jpg"]
    assert len(_search(data, broken, "a cat", capsys)) == 5


def test_status_reports_ocr_counts(
    indexed: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    data, bundle = indexed
    capsys.readouterr()
    assert main(["--data-dir", str(data), "--bundle", str(bundle), "status", "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["ocr"] == {"done": 4, "no_text": 1, "failed": 0, "pending": 0}
