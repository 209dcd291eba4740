"""`edge-app import-pack`: a pack-imported library answers like an on-box index."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from edge_app.context import AppContext
from edge_app.library.records import PhotoFilter
from edge_app.packs.importer import import_pack
from edge_app.settings import Settings
from tests.edge_app.packs.conftest import N_PHOTOS, copy_pack

QUERIES = (
    "a red circle", "a blue square", "a green triangle", "a yellow circle",
    "a purple square", "a red triangle", "an orange star", "a white circle",
)  # fmt: skip


def _settings(root: Path, bundle: Path) -> Settings:
    return Settings(data_dir=root, bundle_dir=bundle, batch_size=16, decode_workers=1)


@pytest.fixture()
def box(tmp_path: Path, toy_bundle: Path) -> Iterator[AppContext]:
    ctx = AppContext.open(_settings(tmp_path / "box", toy_bundle))
    yield ctx
    ctx.close()


def _top10(ctx: AppContext, query: str) -> list[str]:
    page = ctx.search.search(query, limit=10)
    return [r.sha256 or "" for r in page.results]


def test_imported_pack_gives_the_same_top10_as_an_on_box_index(
    box: AppContext, toy_pack: Path, pack_photos: Path, toy_bundle: Path, tmp_path: Path
) -> None:
    report = import_pack(box, toy_pack)
    assert (report.added, report.duplicates, report.failed_on_host) == (N_PHOTOS, 0, 1)
    onbox_settings = _settings(tmp_path / "onbox", toy_bundle)
    shutil.copytree(pack_photos, onbox_settings.library_dir)
    with AppContext.open(onbox_settings) as onbox:
        onbox.index_library()
        agreement = [len(set(_top10(box, q)) & set(_top10(onbox, q))) / 10 for q in QUERIES]
        by_sha_a = _by_sha(box)
        by_sha_b = _by_sha(onbox)
    assert agreement == [1.0] * len(QUERIES)
    assert by_sha_a.keys() == by_sha_b.keys()
    diff = max(float(np.abs(by_sha_a[k] - by_sha_b[k]).max()) for k in by_sha_a)
    assert diff < 2e-3  # float16 storage; same artifact, same decode


def _by_sha(ctx: AppContext) -> dict[str, np.ndarray]:
    ids, vecs = ctx.library.get_embeddings(ctx.library.filter_ids(PhotoFilter()).tolist())
    photos = {p.id: p.sha256 for p in ctx.library.get_photos([int(i) for i in ids])}
    return {str(photos[int(i)]): v for i, v in zip(ids, vecs, strict=True)}


def test_the_box_never_encodes_an_imported_photo_again(box: AppContext, toy_pack: Path) -> None:
    import_pack(box, toy_pack)
    report = box.index_library()
    assert (report.encoded, report.unchanged) == (0, N_PHOTOS)
    photo = box.library.find_by_rel_path(box.library.list_photos(limit=1)[0].rel_path)
    assert photo is not None and photo.thumb_path
    assert (box.settings.thumbs_dir / photo.thumb_path).is_file()


def test_importing_again_and_overlapping_packs_add_no_duplicates(
    box: AppContext, toy_pack: Path, root_pack: tuple[Path, Path]
) -> None:
    import_pack(box, toy_pack)
    again = import_pack(box, toy_pack)
    assert (again.added, again.skipped_done) == (0, N_PHOTOS)
    pack, share = root_pack
    second = import_pack(box, pack)  # 20 of its 30 photos came with the first pack
    assert (second.added, second.duplicates) == (10, 20)
    shas = [p.sha256 for p in box.library.list_photos(limit=1000)]
    assert len(shas) == len(set(shas)) == N_PHOTOS + 10
    new = [p for p in box.library.list_photos(limit=1000) if "/new/" in p.rel_path]
    assert len(new) == 10 and all(p.rel_path.startswith(".roots/") for p in new)
    assert len(box.store.current()) == N_PHOTOS + 10
    assert box.index_library().encoded == 0  # the share's files are unchanged on the box


def test_root_map_overrides_the_path_recorded_in_the_pack(
    box: AppContext, root_pack: tuple[Path, Path], tmp_path: Path
) -> None:
    pack, share = root_pack
    moved = tmp_path / "mnt" / "photos"
    shutil.copytree(share, moved)  # the same share, mounted elsewhere on the box
    report = import_pack(box, pack, root_map=moved)
    assert report.added == 30
    roots = [r.path for r in box.library.list_roots() if r.path is not None]
    assert roots == [moved.resolve()]


def test_a_stick_holding_a_pack_is_imported_as_a_pack(
    toy_pack: Path, toy_bundle: Path, tmp_path: Path
) -> None:
    """The import unit (its own context, like its own process) imports; the running daemon
    picks the rows up on the reload the unit sends (a re-index run), encoding nothing."""
    from edge_app.packs.importer import PackReport
    from edge_app.usb.commands import EXIT_DONE, import_command

    stick = tmp_path / "stick"
    copy_pack(toy_pack, stick / "library-pack")
    settings = _settings(tmp_path / "box", toy_bundle)
    reports: list[PackReport] = []
    with AppContext.open(settings) as daemon:
        assert import_command(settings, stick, on_pack_done=reports.append) == EXIT_DONE
        assert reports[0].added == N_PHOTOS and len(daemon.store.current()) == 0
        assert daemon.index_library().encoded == 0
        assert len(daemon.store.current()) == N_PHOTOS
        assert len(daemon.search.search("a red circle", limit=10).results) == 10
    assert not list(settings.imports_dir.glob("*_stick"))  # not copied as a photo folder


def test_the_import_page_lists_imported_packs(box: AppContext, toy_pack: Path) -> None:
    from tests.webui.conftest import admin_app, login

    report = import_pack(box, toy_pack)
    client = admin_app(box.settings, box).test_client()
    login(client)
    html = client.get("/import").get_data(as_text=True)
    assert "Library packs" in html and f'data-pack="{report.pack_id}"' in html
    assert f"<td>{N_PHOTOS}</td>" in html
