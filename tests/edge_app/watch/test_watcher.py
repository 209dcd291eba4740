"""Watching photo roots end to end: real folders, real inotify (watchdog), real indexer."""

from __future__ import annotations

import hashlib
import os
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

from edge_app.library.roots import to_key
from edge_app.settings import Settings
from tests.edge_app.watch.harness import jpeg_bytes, running, write_jpeg


def _settings(tmp_path: Path, bundle: Path, root: Path, **extra: object) -> Settings:
    values: dict[str, object] = dict(
        data_dir=tmp_path / "data", bundle_dir=bundle, library_roots=(root,),
        batch_size=16, decode_workers=2, watch_settle_s=0.6, backend_prefer="onnxruntime",
    )  # fmt: skip
    values.update(extra)
    return Settings(**values)  # type: ignore[arg-type]


def _fingerprint(root: Path) -> dict[str, tuple[str, int]]:
    """Every file's sha256 and mtime_ns: proves the appliance wrote nothing in a root."""
    out = {}
    for path in sorted(root.rglob("*")):
        if path.is_file():
            out[path.relative_to(root).as_posix()] = (
                hashlib.sha256(path.read_bytes()).hexdigest(),
                path.stat().st_mtime_ns,
            )
    return out


@pytest.fixture()
def root(tmp_path: Path) -> Path:
    folder = tmp_path / "nas" / "photos"
    for i in range(4):
        write_jpeg(folder / "2024" / f"img_{i}.jpg", seed=i)
    old = time.time() - 3600  # written "earlier": not still growing
    for path in folder.rglob("*.jpg"):
        os.utime(path, (old, old))
    return folder


def test_root_indexed_in_place_bytes_and_mtimes_unchanged(
    tmp_path: Path, tiny_bundle: Path, root: Path
) -> None:
    before = _fingerprint(root)
    with running(_settings(tmp_path, tiny_bundle, root)) as run:
        rid = run.ctx.library.list_roots()[1].id
        assert set(run.photos()) == {to_key(rid, k) for k in before}
        write_jpeg(root / "2024" / "new.jpg", seed=99)
        run.wait(lambda: to_key(rid, "2024/new.jpg") in run.photos(), what="new photo indexed")
        run.settle()
        after = _fingerprint(root)
    assert {k: v for k, v in after.items() if k != "2024/new.jpg"} == before
    assert not any(p.name.startswith(".") for p in root.rglob("*"))  # no stray temp files


def test_slowly_copied_file_indexed_once_and_complete(
    tmp_path: Path, tiny_bundle: Path, root: Path
) -> None:
    data = jpeg_bytes(seed=7)
    # pauses of 0.3 s, settle 1.5 s: margin for a loaded machine stretching a pause
    with running(_settings(tmp_path, tiny_bundle, root, watch_settle_s=1.5)) as run:
        rid = run.ctx.library.list_roots()[1].id
        target = root / "incoming.jpg"
        with target.open("wb") as fp:
            for start in range(0, len(data), len(data) // 5 + 1):
                fp.write(data[start : start + len(data) // 5 + 1])
                fp.flush()
                time.sleep(0.3)  # shorter than the settle time: still "being written"
        key = to_key(rid, "incoming.jpg")
        run.wait(lambda: key in run.photos(), what="slow copy indexed")
        run.settle()
        photo = run.ctx.library.find_by_rel_path(key)
        assert photo is not None and photo.status == "indexed"
        assert photo.size == len(data)
        assert photo.sha256 == hashlib.sha256(data).hexdigest()
        assert run.encoded == 1  # indexed exactly once, never half-written
        assert not run.photos("error")


def test_move_inside_root_keeps_id_and_embedding(
    tmp_path: Path, tiny_bundle: Path, root: Path
) -> None:
    with running(_settings(tmp_path, tiny_bundle, root)) as run:
        rid = run.ctx.library.list_roots()[1].id
        old_key, new_key = to_key(rid, "2024/img_1.jpg"), to_key(rid, "moved/elsewhere.jpg")
        photo_id = run.photos()[old_key]
        vector = run.ctx.library.get_embedding(photo_id)
        (root / "moved").mkdir()
        (root / "2024" / "img_1.jpg").rename(root / "moved" / "elsewhere.jpg")
        run.wait(lambda: new_key in run.photos(), what="move seen")
        run.settle()
        assert run.photos()[new_key] == photo_id and old_key not in run.photos()
        after = run.ctx.library.get_embedding(photo_id)
        assert vector is not None and after is not None and np.array_equal(after, vector)
        assert run.encoded == 0


def test_deletion_removes_photo(tmp_path: Path, tiny_bundle: Path, root: Path) -> None:
    with running(_settings(tmp_path, tiny_bundle, root)) as run:
        rid = run.ctx.library.list_roots()[1].id
        key = to_key(rid, "2024/img_2.jpg")
        photo_id = run.photos()[key]
        (root / "2024" / "img_2.jpg").unlink()
        run.wait(lambda: key not in run.photos(), what="deletion seen")
        run.settle()
        assert photo_id not in set(run.ctx.store.current().ids().tolist())
        assert len(run.photos()) == 3


def test_root_renamed_away_goes_offline_and_back_without_reencoding(
    tmp_path: Path, tiny_bundle: Path, root: Path
) -> None:
    with running(_settings(tmp_path, tiny_bundle, root)) as run:
        lib, store = run.ctx.library, run.ctx.store
        rid = lib.list_roots()[1].id
        ids = sorted(run.photos().values())
        vector = lib.get_embedding(ids[0])
        assert vector is not None
        away = root.with_name("photos-unplugged")
        root.rename(away)
        run.wait(lambda: not lib.get_root(rid).online, what="root offline")
        run.settle()
        assert "missing" in (lib.get_root(rid).last_error or "")
        assert sorted(run.photos().values()) == ids  # rows and embeddings kept
        assert not set(ids) & set(store.current().ids().tolist())  # out of search
        hits = run.ctx.search.search_vector(vector, limit=10)
        assert not {h.photo_id for h in hits} & set(ids)
        away.rename(root)
        run.wait(lambda: lib.get_root(rid).online, what="root online again")
        run.settle()
        assert set(ids) <= set(store.current().ids().tolist())
        assert run.ctx.search.search_vector(vector, limit=1).results[0].photo_id == ids[0]
        assert run.encoded == 0  # back without a single re-encode
        states = {s.root_id: s.mode for s in run.watch.watcher.status()}  # type: ignore[union-attr]
        assert states[rid] == "watching"


def test_two_thousand_files_at_once_are_batched(
    tmp_path: Path, tiny_bundle: Path, root: Path
) -> None:
    settings = _settings(tmp_path, tiny_bundle, root, batch_size=64)
    with running(settings) as run:
        rid = run.ctx.library.list_roots()[1].id
        staging = tmp_path / "staging"
        for i in range(2000):
            write_jpeg(staging / f"b_{i:04d}.jpg", seed=1000 + i, size=8)
        staging.rename(root / "burst")  # dropped at once
        want = {to_key(rid, f"burst/b_{i:04d}.jpg") for i in range(2000)}
        run.wait(lambda: want <= set(run.photos()), timeout=600, what="2000 photos indexed")
        run.settle()
        watch_runs = [r for kind, r in run.reports if kind != "reindex"]
        assert sum(r.new for r in watch_runs) == 2000
        assert len(watch_runs) <= 5  # a handful of jobs, not 2000
        assert sum(r.batches for r in watch_runs) >= 2000 // 64  # encoded in batches


def test_polling_fallback_when_watching_is_off(
    tmp_path: Path, tiny_bundle: Path, root: Path
) -> None:
    settings = _settings(tmp_path, tiny_bundle, root, watch_mode="poll", poll_interval_s=1.0)
    with running(settings) as run:
        rid = run.ctx.library.list_roots()[1].id
        states = {s.root_id: s for s in run.watch.watcher.status()}  # type: ignore[union-attr]
        assert states[rid].mode == "polling" and "watch_mode = poll" in (states[rid].reason or "")
        write_jpeg(root / "polled.jpg", seed=5)
        old = time.time() - 60
        os.utime(root / "polled.jpg", (old, old))
        run.wait(lambda: to_key(rid, "polled.jpg") in run.photos(), what="polled photo")
        (root / "2024" / "img_0.jpg").unlink()
        run.wait(lambda: to_key(rid, "2024/img_0.jpg") not in run.photos(), what="polled delete")


def test_managed_library_is_watched_too(tmp_path: Path, tiny_bundle: Path, root: Path) -> None:
    with running(_settings(tmp_path, tiny_bundle, root)) as run:
        lib_dir = run.ctx.settings.library_dir
        shutil.copy2(write_jpeg(tmp_path / "x.jpg", seed=3), lib_dir / "dropped.jpg")
        run.wait(lambda: "dropped.jpg" in run.photos(), what="library photo indexed")
