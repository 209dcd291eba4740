"""``run_demo``: samples or the user's photos, indexed and searched with a real bundle."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from build_engines.shapes import COLORS, SHAPES
from edge_app.demo import DEFAULT_MODEL, PREBUILT_BUNDLE, SKIMAGE_SAMPLES, run_demo
from edge_app.errors import ConfigError
from edge_app.settings import Settings
from engines.manifest import Manifest

REPO = Path(__file__).resolve().parents[2]
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


def test_toy_model_demo_finds_shapes_and_says_it_is_a_toy(tmp_path: Path) -> None:
    """No bundle configured: the pre-built toy bundle is copied in, nothing is built."""
    settings = Settings(data_dir=tmp_path / "data")
    said: list[str] = []
    result = run_demo(settings, None, None, say=said.append)
    assert any(
        "synthetic toy-shapes model" in line and "edge-build export" in line for line in said
    )
    assert any("pre-built toy-shapes bundle" in line for line in said)
    assert not result.built_bundle
    assert result.settings.bundle_dir == settings.data_dir / "bundles" / DEFAULT_MODEL
    shipped = Manifest.load(PREBUILT_BUNDLE).bundle_id
    assert Manifest.load(result.settings.bundle_dir).bundle_id == shipped
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


def test_demo_command_runs_without_torch(tmp_path: Path) -> None:
    """`edge-app demo --no-serve` as in .venv-app: importing torch (or the builder's
    stack) fails, so any torch import on the demo's path fails this test."""
    blocked = ("torch", "torchvision", "transformers", "open_clip", "onnx")
    code = (
        "import sys\n"
        f"sys.modules.update(dict.fromkeys({blocked!r}))\n"
        "from edge_app.cli.main import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    argv = [sys.executable, "-c", code, "--data-dir", str(tmp_path), "demo", "--no-serve"]
    proc = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "synthetic toy-shapes model" in proc.stdout
    red = proc.stdout.split('search "a red circle":')[1].splitlines()[1]
    assert red.endswith("_red_circle.jpg"), proc.stdout
