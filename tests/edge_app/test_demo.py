"""``run_demo``: samples or the user's photos, indexed and searched with a real bundle."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from build_engines.shapes import COLORS, SHAPES
from edge_app.demo import DEFAULT_MODEL, SKIMAGE_SAMPLES, run_demo
from edge_app.errors import ConfigError
from edge_app.settings import Settings

N_SAMPLES = len(COLORS) * len(SHAPES) + len(SKIMAGE_SAMPLES)  # every colour x shape once


def test_demo_on_samples_with_configured_bundle(tmp_path: Path, tiny_bundle: Path) -> None:
    said: list[str] = []
    settings = Settings(data_dir=tmp_path / "data", bundle_dir=tiny_bundle)
    result = run_demo(settings, None, None, say=said.append)
    assert not result.built_bundle and result.settings.bundle_dir == tiny_bundle
    assert result.photos_dir == settings.library_dir / "demo-samples"
    assert (result.report.encoded, result.report.errors) == (N_SAMPLES, [])
    assert [s.query for s in result.searches] == ["a red circle", "a green triangle"]
    assert all(len(s.hits) == 5 for s in result.searches)
    assert (result.photos_dir / "scikit-image" / "astronaut.jpg").is_file()
    assert not any("toy-shapes" in line for line in said)  # a bundle was configured
    again = run_demo(settings, None, None, say=said.append)
    assert (again.report.encoded, again.report.unchanged) == (0, N_SAMPLES)


def test_demo_copies_the_users_folder_into_the_library(
    tmp_path: Path, tiny_bundle: Path, shapes_photos: list[tuple[Path, object]]
) -> None:
    mine = tmp_path / "My Photos"
    (mine / "2023").mkdir(parents=True)
    for src, _ in shapes_photos[:5]:
        shutil.copy2(src, mine / "2023" / src.name)
    (mine / "._junk.jpg").write_bytes(b"macOS resource fork")
    settings = Settings(data_dir=tmp_path / "data", bundle_dir=tiny_bundle)
    result = run_demo(settings, mine, None, say=lambda _: None, queries=("a cat",))
    assert result.photos_dir == settings.library_dir.resolve() / "demo" / "My Photos"
    assert sorted(p.name for p in result.photos_dir.rglob("*")) == sorted(
        ["2023", *(src.name for src, _ in shapes_photos[:5])]
    )
    assert result.report.encoded == 5
    with pytest.raises(ConfigError, match="not a folder"):
        run_demo(settings, tmp_path / "nope", None)


def test_toy_model_demo_finds_shapes_and_says_it_is_a_toy(tmp_path: Path, toy_bundle: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    shutil.copytree(toy_bundle, settings.data_dir / "bundles" / DEFAULT_MODEL)  # "built" before
    said: list[str] = []
    result = run_demo(settings, None, None, say=said.append)
    assert any(
        "synthetic toy-shapes model" in line and "edge-build export" in line for line in said
    )
    assert not result.built_bundle
    red, green = result.searches  # each has exactly one right answer among the samples
    assert red.hits[0].rel_path.endswith("_red_circle.jpg")
    assert green.hits[0].rel_path.endswith("_green_triangle.jpg")


@pytest.mark.slow
def test_demo_builds_a_bundle_when_asked_for_a_model(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    said: list[str] = []
    result = run_demo(settings, None, "tiny", say=said.append, queries=())
    assert result.built_bundle
    assert result.settings.bundle_dir == settings.data_dir / "bundles" / "tiny"
    assert (result.settings.bundle_dir / "manifest.json").is_file()
    assert result.report.encoded == N_SAMPLES
