"""Every bad pack is refused with a clear error, and nothing of it reaches the library."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from edge_app.context import AppContext
from edge_app.errors import PackError
from edge_app.packs.format import PackManifest
from edge_app.packs.importer import import_pack
from edge_app.settings import Settings
from tests.edge_app.packs.conftest import copy_pack


@pytest.fixture()
def box(tmp_path: Path, toy_bundle: Path) -> Iterator[AppContext]:
    ctx = AppContext.open(Settings(data_dir=tmp_path / "box", bundle_dir=toy_bundle))
    yield ctx
    ctx.close()


def _edit_manifest(pack: Path, change: Callable[[dict[str, Any]], None]) -> None:
    data = json.loads((pack / "pack.json").read_text())
    change(data)
    (pack / "pack.json").write_text(json.dumps(data))


def _refused(box: AppContext, pack: Path, match: str, **kw: object) -> None:
    with pytest.raises(PackError, match=match):
        import_pack(box, pack, **kw)  # type: ignore[arg-type]
    assert box.library.counts_by_status() == {"indexed": 0, "pending": 0, "error": 0}
    assert box.library.list_roots()[1:] == []  # no root registered either
    assert not box.settings.imports_dir.exists() or not any(box.settings.imports_dir.rglob("*.jpg"))


def test_truncated_shard(box: AppContext, toy_pack: Path, tmp_path: Path) -> None:
    pack = copy_pack(toy_pack, tmp_path / "p")
    shard = pack / PackManifest.load(pack).shards[-1].path
    shard.write_bytes(shard.read_bytes()[:-100])
    _refused(box, pack, r"shards/part-00003.parquet does not match its checksum.*copy the pack")


def test_manifest_checksum_mismatch(box: AppContext, toy_pack: Path, tmp_path: Path) -> None:
    pack = copy_pack(toy_pack, tmp_path / "p")
    _edit_manifest(pack, lambda d: d["shards"][1].update(sha256="0" * 64))
    _refused(box, pack, r"part-00001.parquet does not match its checksum")


def test_corrupt_thumbnail(box: AppContext, toy_pack: Path, tmp_path: Path) -> None:
    pack = copy_pack(toy_pack, tmp_path / "p")
    thumb = sorted((pack / "thumbs").rglob("*.jpg"))[7]
    thumb.write_bytes(thumb.read_bytes()[:200] + b"\0" * 50)
    _refused(box, pack, rf"thumbnail thumbs/{thumb.parent.name}/{thumb.name} .* corrupt")


def test_pack_from_another_bundle(toy_pack: Path, tiny_bundle: Path, tmp_path: Path) -> None:
    with AppContext.open(Settings(data_dir=tmp_path / "box", bundle_dir=tiny_bundle)) as other:
        _refused(other, toy_pack, r"encoded with bundle toy-shapes-.*this box runs tiny-.*rebuild")


def test_pack_with_another_precision(box: AppContext, toy_pack: Path, tmp_path: Path) -> None:
    pack = copy_pack(toy_pack, tmp_path / "p")
    _edit_manifest(pack, lambda d: d["bundle"].update(image_precision="int8"))
    _refused(box, pack, r"embeddings are int8 .* this box encodes with fp32.*--prefer")


def test_root_mapping_pointing_nowhere(
    box: AppContext, root_pack: tuple[Path, Path], tmp_path: Path
) -> None:
    pack, _ = root_pack
    _refused(box, pack, r"does not hold the pack's photos.*--root-map", root_map=tmp_path / "nas")
    empty = tmp_path / "empty"
    empty.mkdir()
    _refused(box, pack, r"30 of 30 checked missing", root_map=empty)


def test_a_folder_without_a_manifest(box: AppContext, tmp_path: Path) -> None:
    _refused(box, tmp_path, r"not a library pack \(no pack.json\)")


def test_unsafe_paths_in_a_pack_are_refused(
    box: AppContext, toy_pack: Path, tmp_path: Path
) -> None:
    pack = copy_pack(toy_pack, tmp_path / "p")
    _edit_manifest(pack, lambda d: d["shards"][0].update(path="../../etc/passwd"))
    _refused(box, pack, r"outside the pack")
