"""Session fixtures for library packs: ONE local Ray (2 CPUs) and the packs built on it.

Ray starts once per test session and every pack is built once, so the Ray tests stay
well under two minutes on the 2-core CI machine; tests that damage a pack copy it first.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

N_PHOTOS = 200
SHARD_ROWS = 64  # 200 photos -> 4 shards (64, 64, 64, 8): resuming crosses shards
BAD_PHOTO = "zz/truncated.jpg"


@pytest.fixture(scope="session")
def ray_local() -> Iterator[None]:
    pytest.importorskip("ray.data", reason="the [cluster] extra (ray[data]) is not installed")
    import ray

    from build_engines.pack.run import ensure_ray

    ensure_ray(None, 2)
    yield
    ray.shutdown()


@pytest.fixture(scope="session")
def pack_photos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """200 generated JPEGs (two folders) and one truncated JPEG a worker cannot decode."""
    from build_engines.shapes import write_folder

    root = tmp_path_factory.mktemp("pack_photos")
    written = write_folder(root, n=N_PHOTOS, seed=2222, size=(160, 160), fmt="jpg")
    (root / "b").mkdir()
    for path, _ in written[::4]:
        path.rename(root / "b" / path.name)
    good = written[1][0].read_bytes()
    (root / BAD_PHOTO).parent.mkdir()
    (root / BAD_PHOTO).write_bytes(good[: len(good) // 3])
    return root


def _build(photos: Path, bundle: Path, out: Path, **kw: object) -> Path:
    from build_engines.pack.run import PackOptions, build_pack

    build_pack(PackOptions(photos, bundle, out, local_cpus=2, batch_size=16, **kw))  # type: ignore[arg-type]
    return out


@pytest.fixture(scope="session")
def toy_pack(
    ray_local: None, pack_photos: Path, toy_bundle: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """The 200 photos packed with the toy bundle by 2 encoder workers, photos included."""
    out = tmp_path_factory.mktemp("packs") / "toy"
    return _build(pack_photos, toy_bundle, out, workers=2, shard_rows=SHARD_ROWS)


@pytest.fixture(scope="session")
def root_pack(
    ray_local: None, pack_photos: Path, toy_bundle: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, Path]:
    """A second pack over 30 photos (20 also in `toy_pack`), left on a 'share' (box root)."""
    from build_engines.shapes import write_folder

    share = tmp_path_factory.mktemp("share")
    for path in sorted(pack_photos.glob("*.jpg"))[130:150]:
        shutil.copy2(path, share / path.name)
    write_folder(share / "new", n=10, seed=77, size=(160, 160), fmt="jpg")
    out = tmp_path_factory.mktemp("packs") / "root"
    return _build(share, toy_bundle, out, workers=1, box_root=str(share)), share


def copy_pack(pack: Path, dest: Path) -> Path:
    shutil.copytree(pack, dest)
    for path in dest.rglob("*"):
        os.chmod(path, 0o755 if path.is_dir() else 0o644)
    return dest
