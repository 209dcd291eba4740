"""People settings: off by default (library meta), tuning keys from TOML/env, bad values refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge_app.errors import ConfigError
from edge_app.library.store import Library
from edge_app.settings import load_settings


def test_people_is_off_in_a_new_library(tmp_path: Path) -> None:
    with Library(tmp_path / "library.db") as lib:
        assert not lib.faces_enabled() and not lib.faces_for_guests()


def test_model_folder_defaults_to_the_bundle_and_env_overrides(tmp_path: Path) -> None:
    s = load_settings(env={"EDGE_DATA_DIR": str(tmp_path)})
    assert s.faces_models == s.bundle_dir / "faces" and s.faces_detector == "hog"
    s = load_settings(env={"EDGE_DATA_DIR": str(tmp_path), "EDGE_FACES_MODEL_DIR": "/opt/faces",
                           "EDGE_FACES_THRESHOLD": "0.45"})  # fmt: skip
    assert s.faces_models == Path("/opt/faces") and s.faces_threshold == 0.45


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("EDGE_FACES_DETECTOR", "cnn", "faces_detector must be hog or mmod"),
        ("EDGE_FACES_DET_SIDE", "100", "faces_det_side must be >= 160"),
        ("EDGE_FACES_THRESHOLD", "0", "faces_threshold must be in"),
        ("EDGE_FACES_MIN_QUALITY", "2", "faces_min_quality must be in"),
    ],
)
def test_bad_values_are_config_errors(tmp_path: Path, key: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(env={"EDGE_DATA_DIR": str(tmp_path), key: value})
