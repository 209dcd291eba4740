"""Tag settings come from TOML/env like every other setting and are range-checked."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge_app.errors import ConfigError
from edge_app.settings import load_settings
from edge_app.tags.admin import builtin_names


def test_tag_settings_from_env(tmp_path: Path) -> None:
    env = {"EDGE_DATA_DIR": str(tmp_path), "EDGE_TAG_THRESHOLD": "2.5", "EDGE_TAG_BUILTIN_SETS": ""}
    settings = load_settings(None, env)
    assert settings.tag_threshold == 2.5 and builtin_names(settings.tag_builtin_sets) == []
    assert builtin_names(
        load_settings(None, {"EDGE_DATA_DIR": str(tmp_path)}).tag_builtin_sets
    ) == ["everyday"]


def test_bad_tag_threshold_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="tag_threshold must be in"):
        load_settings(None, {"EDGE_DATA_DIR": str(tmp_path), "EDGE_TAG_THRESHOLD": "0"})
