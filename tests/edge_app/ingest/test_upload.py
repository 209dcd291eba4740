"""Browser uploads through the verified copy path: real files, real Pillow decoding."""

from __future__ import annotations

import io
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from edge_app.ingest.upload import UploadLedger, UploadSaver, safe_name
from edge_app.settings import Settings

DAY = date(2024, 5, 1)
BIG = 10_000_000


def _jpeg(color: str = "red", size: tuple[int, int] = (64, 48)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, "JPEG", quality=90)
    return buf.getvalue()


@pytest.fixture()
def settings(tmp_path: Path) -> Settings:
    s = Settings(data_dir=tmp_path / "data")
    s.ensure_dirs()
    return s


def _saver(settings: Settings, known: set[str] | None = None, ledger: Any = None) -> UploadSaver:
    known = known or set()
    return UploadSaver(settings, lambda sha: sha in known, ledger or UploadLedger(), DAY)


def _dest(settings: Settings) -> Path:
    return settings.imports_dir / "2024-05-01_upload"


def _leftovers(settings: Settings) -> list[str]:
    return sorted(p.name for p in _dest(settings).iterdir())


def test_saves_a_photo_into_the_dated_folder(settings: Settings) -> None:
    data = _jpeg()
    out = _saver(settings).save(io.BytesIO(data), "holiday/IMG_0001.JPG", BIG)
    assert out.status == "saved" and out.size == len(data)
    assert out.rel_path == "imports/2024-05-01_upload/IMG_0001.jpg"
    assert (settings.library_dir / out.rel_path).read_bytes() == data
    assert _leftovers(settings) == ["IMG_0001.jpg"]  # no temporary file left


def test_too_big_is_refused_and_leaves_nothing(settings: Settings) -> None:
    out = _saver(settings).save(io.BytesIO(_jpeg(size=(400, 400))), "big.jpg", 1000)
    assert out.status == "error" and "larger than the limit" in (out.error or "")
    assert _leftovers(settings) == []


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("notes.txt", b"hello", "not a photo type"),
        ("fake.jpg", b"%PDF-1.4 this is a document", "not a readable photo"),
        ("empty.jpg", b"", "empty"),
    ],
)
def test_wrong_type_is_a_clear_error(
    settings: Settings, name: str, data: bytes, reason: str
) -> None:
    out = _saver(settings).save(io.BytesIO(data), name, BIG)
    assert out.status == "error" and reason in (out.error or "")
    assert _leftovers(settings) == []


def test_truncated_photo_is_refused(settings: Settings) -> None:
    data = _jpeg(size=(640, 480))
    out = _saver(settings).save(io.BytesIO(data[: len(data) // 2]), "cut.jpg", BIG)
    assert out.status == "error" and "not a readable photo" in (out.error or "")
    assert _leftovers(settings) == []


def test_duplicates_of_the_library_and_of_earlier_uploads_are_skipped(settings: Settings) -> None:
    import hashlib

    known_bytes, fresh = _jpeg("blue"), _jpeg("green")
    saver = _saver(settings, known={hashlib.sha256(known_bytes).hexdigest()})
    assert saver.save(io.BytesIO(known_bytes), "a.jpg", BIG).status == "duplicate"
    assert saver.save(io.BytesIO(fresh), "b.jpg", BIG).status == "saved"
    assert saver.save(io.BytesIO(fresh), "copy of b.jpg", BIG).status == "duplicate"
    assert _leftovers(settings) == ["b.jpg"]


def test_same_name_other_content_gets_its_own_name(settings: Settings) -> None:
    saver = _saver(settings)
    first = saver.save(io.BytesIO(_jpeg("red")), "x.jpg", BIG)
    second = saver.save(io.BytesIO(_jpeg("yellow")), "x.jpg", BIG)
    assert first.rel_path != second.rel_path and second.status == "saved"
    assert len(_leftovers(settings)) == 2


class _Breaks(io.RawIOBase):
    """A stream that dies half way, like a dropped connection."""

    def __init__(self, data: bytes, exc: BaseException) -> None:
        self._data, self._exc, self._sent = data, exc, False

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        if self._sent:
            raise self._exc
        self._sent = True
        return self._data[: len(self._data) // 2]


def test_interrupted_upload_leaves_nothing_partial(settings: Settings) -> None:
    data = _jpeg(size=(300, 300))
    out = _saver(settings).save(_Breaks(data, OSError("connection reset")), "a.jpg", BIG)  # type: ignore[arg-type]
    assert out.status == "error" and "cut off" in (out.error or "")
    with pytest.raises(RuntimeError):  # e.g. the web server's ClientDisconnected
        _saver(settings).save(_Breaks(data, RuntimeError("client gone")), "b.jpg", BIG)  # type: ignore[arg-type]
    assert _leftovers(settings) == []


def test_stale_temp_from_a_crash_is_removed(settings: Settings) -> None:
    _dest(settings).mkdir(parents=True)
    stale = _dest(settings) / ".edge-import-deadbeef.part"
    stale.write_bytes(b"half a photo")
    _saver(settings)
    assert not stale.exists()


@pytest.mark.parametrize(
    ("raw", "safe"),
    [
        ("../../etc/passwd.jpg", "passwd.jpg"),
        ("C:\\Users\\me\\IMG_1.JPEG", "IMG_1.jpeg"),
        ("a/b/.hidden.png", "hidden.png"),
        ("", "photo"),
        ("ph<o>to?.jpg", "ph_o_to_.jpg"),
    ],
)
def test_safe_name(raw: str, safe: str) -> None:
    assert safe_name(raw) == safe


def test_photo_upload_limit_setting() -> None:
    from edge_app.errors import ConfigError
    from edge_app.settings import load_settings

    assert load_settings(env={"EDGE_MAX_PHOTO_UPLOAD_BYTES": "5000"}).max_photo_upload_bytes == 5000
    with pytest.raises(ConfigError, match="max_photo_upload_bytes"):
        load_settings(env={"EDGE_MAX_PHOTO_UPLOAD_BYTES": "0"})
