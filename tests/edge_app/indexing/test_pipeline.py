"""Indexer end to end: real JPEGs, real bundle (ONNX/OpenVINO), real SQLite and FAISS."""

from __future__ import annotations

import io
import os
import shutil
import struct
import threading
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

import engines
from edge_app.errors import PathOutsideLibraryError
from edge_app.indexing.pipeline import Indexer, IndexReport
from edge_app.indexing.progress import Progress
from edge_app.library.store import Library
from edge_app.search.index_store import IndexStore
from edge_app.settings import Settings
from engines.clip_encoder import ClipEncoder

N_GOOD = 10
BAD = {
    "bad/empty.jpg": "zero-byte file",
    "bad/notes.jpg": "not an image (looks like a text file)",
    "bad/cut.jpg": "truncated JPEG",
    "bad/bomb.png": "image too large",
}


@dataclass
class CountingEncoder:
    """A thin real wrapper (not a mock): forwards to the encoder and counts what it encodes."""

    inner: ClipEncoder
    override_bundle_id: str | None = None
    calls: list[int] = field(default_factory=list)

    @property
    def bundle_id(self) -> str:
        return self.override_bundle_id or self.inner.bundle_id

    @property
    def image_size(self) -> int:
        return self.inner.image_size

    @property
    def dim(self) -> int:
        return self.inner.dim

    def preprocess(self, img: Image.Image) -> np.ndarray:
        return self.inner.preprocess(img)

    def encode_pixels(self, x: np.ndarray) -> np.ndarray:
        self.calls.append(len(x))
        return self.inner.encode_pixels(x)

    @property
    def encoded(self) -> int:
        return sum(self.calls)


@dataclass
class Env:
    settings: Settings
    library: Library
    store: IndexStore
    encoder: CountingEncoder

    def indexer(self) -> Indexer:
        return Indexer(self.settings, self.library, self.store, self.encoder)

    def run(self, **kwargs: Any) -> IndexReport:
        return self.indexer().run(**kwargs)

    def photo_paths(self, status: str = "indexed") -> list[str]:
        return sorted(p for p, k in self.library.known_files().items() if k.status == status)

    def assert_faiss_matches_sqlite(self) -> None:
        ids, _ = self.library.get_embeddings([k.id for k in self.library.known_files().values()])
        assert np.array_equal(self.store.current().ids(), np.sort(ids))


def write_bad_files(root: Path) -> None:
    bad = root / "bad"
    bad.mkdir(parents=True)
    (bad / "empty.jpg").write_bytes(b"")
    (bad / "notes.jpg").write_text("not a photo\n")
    buf = io.BytesIO()
    Image.linear_gradient("L").convert("RGB").save(buf, "JPEG")
    (bad / "cut.jpg").write_bytes(buf.getvalue()[:400])
    ihdr = b"IHDR" + struct.pack(">IIBBBBB", 40000, 25000, 8, 2, 0, 0, 0)  # claims 1 GP
    crc = struct.pack(">I", zlib.crc32(ihdr) & 0xFFFFFFFF)
    idat = b"IDAT" + zlib.compress(b"\0" * 64)
    idat_crc = struct.pack(">I", zlib.crc32(idat) & 0xFFFFFFFF)
    png = b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + ihdr + crc
    png += struct.pack(">I", len(idat) - 4) + idat + idat_crc
    (bad / "bomb.png").write_bytes(png)


@pytest.fixture(scope="module")
def encoder(tiny_bundle: Path) -> Iterator[ClipEncoder]:
    enc = engines.open(tiny_bundle, prefer="onnxruntime")
    yield enc
    enc.close()


@pytest.fixture()
def env(
    tmp_path: Path, encoder: ClipEncoder, shapes_photos: list[tuple[Path, object]]
) -> Iterator[Env]:
    settings = Settings(data_dir=tmp_path / "data", batch_size=4, decode_workers=2)
    settings.ensure_dirs()
    for src, _ in shapes_photos[:N_GOOD]:
        shutil.copy2(src, settings.library_dir / src.name)
    write_bad_files(settings.library_dir)
    library = Library(settings.db_path)
    store = IndexStore(settings.index_dir, settings.ann_threshold)
    store.open(library, encoder.bundle_id, encoder.dim)
    yield Env(settings, library, store, CountingEncoder(encoder))
    library.close()


def test_indexes_good_files_and_records_bad_ones(env: Env) -> None:
    progress = Progress()
    report = env.run(progress=progress)
    assert report.scanned == N_GOOD + len(BAD)
    assert report.encoded == N_GOOD == len(env.photo_paths())
    assert max(env.encoder.calls) <= env.settings.batch_size  # batched, never one big call
    reasons = dict(report.errors)
    assert sorted(reasons) == sorted(BAD)
    for path, expected in BAD.items():
        assert expected in reasons[path]
        assert expected in (env.library.find_by_rel_path(path).error_reason or "")  # type: ignore[union-attr]
    env.assert_faiss_matches_sqlite()
    snap = progress.snapshot()
    assert (snap["state"], snap["done"], snap["total"], snap["errors"]) == (
        "done",
        N_GOOD + len(BAD),
        N_GOOD + len(BAD),
        len(BAD),
    )


def test_rows_carry_metadata_and_thumbnails(env: Env) -> None:
    env.run()
    photo = env.library.find_by_rel_path(env.photo_paths()[0])
    assert photo is not None and photo.sha256 and photo.thumb_path
    assert (photo.width, photo.height) == (256, 256)
    thumb = Image.open(env.settings.thumbs_dir / photo.thumb_path)
    assert thumb.format == "JPEG" and max(thumb.size) <= 256
    emb = env.library.get_embedding(photo.id)
    assert emb is not None and emb.shape == (env.encoder.dim,)


def test_second_run_changes_nothing(env: Env) -> None:
    env.run()
    before = env.encoder.encoded
    report = env.run()
    assert env.encoder.encoded == before
    assert (report.unchanged, report.encoded, report.errors) == (N_GOOD + len(BAD), 0, [])


def test_move_delete_edit_touch_and_copy(env: Env) -> None:
    env.run()
    lib = env.settings.library_dir
    names = env.photo_paths()
    moved_id = env.library.find_by_rel_path(names[0]).id  # type: ignore[union-attr]
    (lib / "album").mkdir()
    os.replace(lib / names[0], lib / "album" / names[0])  # move
    (lib / names[1]).unlink()  # delete
    Image.new("RGB", (300, 200), (250, 10, 10)).save(lib / names[2], "JPEG")  # edit
    st = (lib / names[3]).stat()
    os.utime(lib / names[3], ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))  # touch
    shutil.copy2(lib / names[4], lib / "copy_of_four.jpg")  # copy
    encoded_before = env.encoder.encoded
    report = env.run()
    assert (report.moved, report.deleted, report.changed) == (1, 1, 1)
    assert env.encoder.encoded - encoded_before == 1  # only the edited file
    assert report.reused == 1  # the copy reused the embedding of its original
    assert env.library.find_by_rel_path(f"album/{names[0]}").id == moved_id  # type: ignore[union-attr]
    assert env.library.find_by_rel_path(names[1]) is None
    assert len(env.photo_paths()) == N_GOOD
    env.assert_faiss_matches_sqlite()
    assert env.run().encoded == 0


def test_subpath_scope_and_outside_path(env: Env, tmp_path: Path) -> None:
    env.run()
    (env.settings.library_dir / env.photo_paths()[0]).unlink()  # outside the scope below
    report = env.run(paths=[env.settings.library_dir / "bad"])
    assert report.scanned == len(BAD) and report.deleted == 0
    with pytest.raises(PathOutsideLibraryError):
        env.run(paths=[tmp_path])
    assert env.run().deleted == 1


def test_stop_event_checkpoints_and_resume_finishes(env: Env) -> None:
    stop = threading.Event()
    progress = Progress()
    progress.add_listener(lambda snap: stop.set() if snap["done"] >= 4 else None)
    first = env.run(progress=progress, stop_event=stop)
    assert first.stopped and progress.snapshot()["state"] == "stopped"
    committed = len(env.photo_paths()) + len(env.photo_paths("error"))
    assert 4 <= committed < N_GOOD + len(BAD)
    env.assert_faiss_matches_sqlite()
    second = env.run()
    assert not second.stopped
    assert len(env.photo_paths()) == N_GOOD
    assert env.encoder.encoded == N_GOOD  # nothing encoded twice
    env.assert_faiss_matches_sqlite()


def test_bundle_switch_reembeds_everything(env: Env) -> None:
    env.run()
    other = CountingEncoder(env.encoder.inner, override_bundle_id="other-bundle-000000000000")
    env.store.open(env.library, other.bundle_id, other.dim)
    report = Indexer(env.settings, env.library, env.store, other).run()
    assert report.encoded == N_GOOD and other.encoded == N_GOOD
    assert report.errors == []  # bad files are not retried until they change
    assert {env.library.get_photo(int(i)).bundle_id for i in env.store.current().ids()} == {
        other.bundle_id
    }


def test_index_survives_reopen_without_rebuild(env: Env) -> None:
    env.run()
    store = IndexStore(env.settings.index_dir, env.settings.ann_threshold)
    loaded = store.load(env.encoder.bundle_id, env.library.index_generation(), env.encoder.dim)
    assert np.array_equal(loaded.ids(), env.store.current().ids())


@dataclass
class SlowEncoder(CountingEncoder):
    """Encodes slowly, so decode workers run ahead as far as the pipeline lets them."""

    preprocessed: int = 0
    ahead: list[int] = field(default_factory=list)

    def preprocess(self, img: Image.Image) -> np.ndarray:
        self.preprocessed += 1  # one writer per worker thread; a lost update only lowers it
        return self.inner.preprocess(img)

    def encode_pixels(self, x: np.ndarray) -> np.ndarray:
        time.sleep(0.2)
        self.ahead.append(self.preprocessed - self.encoded)
        return super().encode_pixels(x)


def test_decoding_runs_ahead_but_only_within_the_window(
    tmp_path: Path, encoder: ClipEncoder, shapes_photos: list[tuple[Path, object]]
) -> None:
    settings = Settings(data_dir=tmp_path / "data", batch_size=2, decode_workers=2)
    settings.ensure_dirs()
    for src, _ in shapes_photos[:30]:
        shutil.copy2(src, settings.library_dir / src.name)
    slow = SlowEncoder(encoder)
    with Library(settings.db_path) as library:
        store = IndexStore(settings.index_dir)
        store.open(library, encoder.bundle_id, encoder.dim)
        Indexer(settings, library, store, slow).run()
    in_flight = 2 * settings.batch_size + settings.decode_workers  # the pipeline's window
    assert slow.encoded == 30
    # bounded: the batch being encoded + the window, never the whole folder in memory
    assert max(slow.ahead) <= in_flight + settings.batch_size
    assert max(slow.ahead) > settings.batch_size  # but decoding does run ahead


def test_progress_rate_and_eta_from_a_fake_clock() -> None:
    now = [100.0]
    progress = Progress(clock=lambda: now[0])
    progress.start()
    progress.set_total(100)
    for _ in range(10):
        now[0] += 0.5
        progress.advance(2, current="x.jpg")
    snap = progress.snapshot()
    assert snap["rate"] == pytest.approx(4.0) and snap["eta_s"] == pytest.approx(20.0)
    assert (snap["done"], snap["current"], snap["state"]) == (20, "x.jpg", "indexing")
    with pytest.raises(ValueError):
        progress.finish("bogus")
