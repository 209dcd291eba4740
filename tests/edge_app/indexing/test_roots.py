"""Photo roots: configuration checks, settings, migration, locating paths, offline roots.

Real folders, real SQLite, real indexer with the tiny bundle; no watcher here (see
tests/edge_app/watch).
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from edge_app.context import AppContext
from edge_app.errors import ConfigError, NotFoundError, PathOutsideLibraryError
from edge_app.indexing.roots import (
    add_user_root,
    locate,
    photo_file,
    remove_user_root,
    sync_config_roots,
    validate_root,
)
from edge_app.library import schema
from edge_app.library.roots import LIBRARY_ROOT_ID, split_key, to_key
from edge_app.library.store import Library
from edge_app.settings import Settings, load_settings
from tests.edge_app.watch.harness import write_jpeg


@pytest.fixture()
def settings(tmp_path: Path) -> Settings:
    s = Settings(data_dir=tmp_path / "data")
    s.ensure_dirs()
    return s


@pytest.fixture()
def library(settings: Settings) -> Iterator[Library]:
    with Library(settings.db_path) as lib:
        yield lib


def _folder(path: Path, n: int = 2, seed: int = 0) -> Path:
    for i in range(n):
        write_jpeg(path / f"p{i}.jpg", seed=seed + i)
    return path


# ------------------------------------------------------------- configuration checks
def test_root_that_is_a_file_is_refused(tmp_path: Path, settings: Settings) -> None:
    file = tmp_path / "photo.jpg"
    file.write_bytes(b"x")
    with pytest.raises(ConfigError, match="is a file, not a folder"):
        validate_root(file, settings, [])


def test_missing_root_is_refused(tmp_path: Path, settings: Settings) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        validate_root(tmp_path / "nope", settings, [])


def test_root_inside_or_around_the_data_dir_is_refused(tmp_path: Path, settings: Settings) -> None:
    inner = settings.thumbs_dir
    with pytest.raises(ConfigError, match="overlaps the data folder"):
        validate_root(inner, settings, [])
    with pytest.raises(ConfigError, match="overlaps the data folder"):
        validate_root(tmp_path, settings, [])  # contains the data dir


def test_overlapping_roots_are_refused(tmp_path: Path, settings: Settings) -> None:
    outer = _folder(tmp_path / "nas")
    inner = _folder(tmp_path / "nas" / "2024")
    with pytest.raises(ConfigError, match="overlaps the root"):
        validate_root(inner, settings, [outer])
    with pytest.raises(ConfigError, match="overlaps the root"):
        validate_root(outer, settings, [inner])


def test_symlink_loop_in_root_is_refused(tmp_path: Path, settings: Settings) -> None:
    root = _folder(tmp_path / "loopy")
    (root / "sub").mkdir()
    (root / "sub" / "back").symlink_to(root)  # leads to its own ancestor
    with pytest.raises(ConfigError, match="symbolic link loop at .*back"):
        validate_root(root, settings, [])
    (root / "sub" / "back").unlink()
    (root / "a").symlink_to(root / "b")
    (root / "b").symlink_to(root / "a")
    with pytest.raises(ConfigError, match="symbolic link loop"):
        validate_root(root, settings, [])


def test_bad_configured_root_fails_context_open_and_loses_nothing(
    tmp_path: Path, tiny_bundle: Path
) -> None:
    base = Settings(
        data_dir=tmp_path / "data", bundle_dir=tiny_bundle, backend_prefer="onnxruntime"
    )
    _folder(base.library_dir)
    with AppContext.open(base) as ctx:
        ctx.index_library()
    bad = Settings(
        data_dir=tmp_path / "data", bundle_dir=tiny_bundle, library_roots=(tmp_path / "gone",)
    )
    with pytest.raises(ConfigError, match="gone does not exist"):
        AppContext.open(bad)
    with Library(base.db_path) as lib:
        assert lib.counts_by_status()["indexed"] == 2


# ------------------------------------------------------------------------- settings
def test_library_roots_from_env_and_toml(tmp_path: Path) -> None:
    env = {
        "EDGE_LIBRARY_ROOTS": os.pathsep.join(["/mnt/a", "", "/mnt/b"]),
        "EDGE_WATCH_MODE": "Poll",
    }
    s = load_settings(env=env)
    assert s.library_roots == (Path("/mnt/a"), Path("/mnt/b")) and s.watch_mode == "poll"
    toml = tmp_path / "c.toml"
    toml.write_text('library_roots = ["/srv/photos"]\npoll_interval_s = 30\n')
    s = load_settings(toml, env={})
    assert s.library_roots == (Path("/srv/photos"),) and s.poll_interval_s == 30.0


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"EDGE_WATCH_MODE": "sometimes"}, "watch_mode must be one of"),
        ({"EDGE_POLL_INTERVAL_S": "0"}, "poll_interval_s must be >= 1"),
        ({"EDGE_WATCH_SETTLE_S": "-1"}, "watch_settle_s must be in"),
    ],
)
def test_bad_watch_settings_are_config_errors(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(env=env)


def test_toml_library_roots_must_be_a_list(tmp_path: Path) -> None:
    toml = tmp_path / "c.toml"
    toml.write_text("library_roots = 3\n")
    with pytest.raises(ConfigError, match="library_roots"):
        load_settings(toml, env={})


# ------------------------------------------------------------------- schema / keys
def test_migration_keeps_existing_rows_in_the_managed_library(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    conn = sqlite3.connect(db)
    schema.migrate(conn, "old", schema.MIGRATIONS[:2])
    conn.execute("INSERT INTO photos (rel_path, added_at) VALUES ('trip/a.jpg', 'now')")
    conn.commit()
    conn.close()
    with Library(db) as lib:
        assert lib.schema_version() == schema.SCHEMA_VERSION
        roots = lib.list_roots()
        assert [(r.id, r.source, r.photos) for r in roots] == [(LIBRARY_ROOT_ID, "library", 1)]
        assert lib.find_by_rel_path("trip/a.jpg") is not None


def test_keys_round_trip() -> None:
    assert to_key(LIBRARY_ROOT_ID, "a/b.jpg") == "a/b.jpg"
    assert to_key(7, "a/b.jpg") == ".roots/7/a/b.jpg"
    assert split_key(".roots/7/a/b.jpg") == (7, "a/b.jpg")
    assert split_key("a/b.jpg") == (LIBRARY_ROOT_ID, "a/b.jpg")


# ---------------------------------------------------------------- roots in the table
def test_add_list_remove_user_root(tmp_path: Path, settings: Settings, library: Library) -> None:
    folder = _folder(tmp_path / "card")
    root = add_user_root(library, settings, folder)
    assert root.source == "user" and root.path == folder.resolve()
    with pytest.raises(ConfigError, match="overlaps the root"):
        add_user_root(library, settings, folder / ".." / "card")
    with pytest.raises(ConfigError, match="managed library"):
        remove_user_root(library, "1")
    removed, ids = remove_user_root(library, str(folder))
    assert removed.id == root.id and ids == []
    assert [r.id for r in library.list_roots()] == [LIBRARY_ROOT_ID]
    assert (folder / "p0.jpg").is_file()  # the folder itself is never touched
    with pytest.raises(NotFoundError):
        remove_user_root(library, "42")


def test_configured_root_dropped_from_settings_keeps_its_photos(
    tmp_path: Path, settings: Settings, library: Library
) -> None:
    folder = _folder(tmp_path / "nas")
    with_root = Settings(data_dir=settings.data_dir, library_roots=(folder,))
    [_, root] = sync_config_roots(library, with_root)
    assert root.source == "config"
    with pytest.raises(ConfigError, match="remove it there"):
        remove_user_root(library, str(root.id))
    [_, kept] = sync_config_roots(library, settings)
    assert kept.id == root.id and kept.source == "user"


def test_locate_refuses_paths_and_links_outside_every_root(
    tmp_path: Path, settings: Settings, library: Library
) -> None:
    folder = _folder(tmp_path / "nas")
    outside = _folder(tmp_path / "private")
    root = add_user_root(library, settings, folder)
    (folder / "sneaky").symlink_to(outside)
    roots = library.list_roots()
    assert locate([folder / "p0.jpg"], roots, settings) == {root.id: [folder / "p0.jpg"]}
    with pytest.raises(PathOutsideLibraryError, match="outside the library and every photo root"):
        locate([outside / "p0.jpg"], roots, settings)
    with pytest.raises(PathOutsideLibraryError, match="outside the library and every photo root"):
        locate([folder / "sneaky" / "p0.jpg"], roots, settings)


# ----------------------------------------------------------- indexing extra roots
@pytest.fixture()
def ctx(tmp_path: Path, tiny_bundle: Path) -> Iterator[AppContext]:
    settings = Settings(
        data_dir=tmp_path / "data", bundle_dir=tiny_bundle, backend_prefer="onnxruntime",
        library_roots=(_folder(tmp_path / "nas", 3),), batch_size=4,
    )  # fmt: skip
    with AppContext.open(settings) as context:
        yield context


def test_index_path_inside_a_root_and_same_names_in_two_roots(
    ctx: AppContext, tmp_path: Path
) -> None:
    _folder(ctx.settings.library_dir, 3)  # same file names as the extra root
    report = ctx.index_library([tmp_path / "nas" / "p1.jpg"])
    assert report.encoded == 1
    rid = ctx.library.list_roots()[1].id
    assert set(ctx.library.known_files()) == {to_key(rid, "p1.jpg")}
    report = ctx.index_library()
    assert (report.new, report.reused) == (5, 3)  # library copies reuse the embeddings
    assert ctx.library.find_by_rel_path("p1.jpg") is not None
    assert (
        photo_file(ctx.reader, ctx.settings, to_key(rid, "p2.jpg")) == tmp_path / "nas" / "p2.jpg"
    )
    with pytest.raises(PathOutsideLibraryError):
        ctx.index_library([tmp_path])


def test_unmounted_root_goes_offline_and_nothing_is_lost(ctx: AppContext, tmp_path: Path) -> None:
    ctx.index_library()
    rid = ctx.library.list_roots()[1].id
    nas = tmp_path / "nas"
    for path in nas.iterdir():  # an empty mount point: the disk is not mounted
        path.rename(tmp_path / path.name)
    report = ctx.index_library()
    root = ctx.library.get_root(rid)
    assert not root.online and "empty but held 3 photos" in (root.last_error or "")
    assert report.deleted == 0 and root.photos == 3
    assert len(ctx.store.current()) == 0 and ctx.library.count_photos() == 0
    with pytest.raises(NotFoundError, match="offline"):
        photo_file(ctx.reader, ctx.settings, to_key(rid, "p0.jpg"))
    old = time.time() - 10
    for name in ("p0.jpg", "p1.jpg", "p2.jpg"):
        (tmp_path / name).rename(nas / name)
        os.utime(nas / name, (old, old))  # mtimes changed: the content hash decides
    report = ctx.index_library()
    assert ctx.library.get_root(rid).online
    assert (report.encoded, report.unchanged, len(ctx.store.current())) == (0, 3, 3)


def test_scoped_run_of_a_move_destination_keeps_the_photo(ctx: AppContext, tmp_path: Path) -> None:
    """The watcher may index the destination folder before it sees the source vanish."""
    ctx.index_library()
    rid = ctx.library.list_roots()[1].id
    before = ctx.library.find_by_rel_path(to_key(rid, "p1.jpg"))
    assert before is not None
    (tmp_path / "nas" / "sorted").mkdir()
    (tmp_path / "nas" / "p1.jpg").rename(tmp_path / "nas" / "sorted" / "p1.jpg")
    report = ctx.index_library([tmp_path / "nas" / "sorted"])
    assert (report.moved, report.deleted, report.encoded) == (1, 0, 0)
    after = ctx.library.find_by_rel_path(to_key(rid, "sorted/p1.jpg"))
    assert after is not None and after.id == before.id
