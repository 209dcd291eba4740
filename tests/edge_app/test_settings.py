"""Settings: defaults, TOML, EDGE_* overrides, typed errors naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge_app.errors import ConfigError
from edge_app.settings import DEFAULT_MAX_IMAGE_PIXELS, Settings, load_settings


def test_defaults_derive_paths_from_data_dir(tmp_path: Path) -> None:
    s = load_settings(env={"EDGE_DATA_DIR": str(tmp_path)})
    assert s.data_dir == tmp_path
    assert s.library_dir == tmp_path / "library"
    assert s.db_path == tmp_path / "library.db"
    assert s.index_dir == tmp_path / "index"
    assert s.imports_dir == tmp_path / "library" / "imports"
    assert (s.host, s.port, s.batch_size, s.import_mode) == ("0.0.0.0", 8443, 32, "ask")
    assert (s.tls, s.http_redirect_port) == ("auto", 8080)  # HTTPS unless asked otherwise
    assert s.guest_access is False
    assert s.max_upload_bytes == 20 * 1024 * 1024


def test_max_image_pixels_rejects_a_gigapixel_header() -> None:
    assert 150_000_000 < DEFAULT_MAX_IMAGE_PIXELS < 1_000_000_000
    assert Settings().max_image_pixels == DEFAULT_MAX_IMAGE_PIXELS


def test_toml_then_env_override(tmp_path: Path) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text(
        f'data_dir = "{tmp_path}"\nport = 9000\nguest_access = true\n'
        "[search]\nduplicate_threshold = 0.9\nann_threshold = 10\n",
        encoding="utf-8",
    )
    s = load_settings(cfg, env={"EDGE_PORT": "9100", "EDGE_BACKEND": "openvino:fp32"})
    assert s.port == 9100  # env wins over the file
    assert s.guest_access is True
    assert s.duplicate_threshold == pytest.approx(0.9)
    assert s.ann_threshold == 10
    assert s.backend_prefer == "openvino:fp32"


def test_edge_config_env_names_the_file(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text('library_dir = "/photos"\n', encoding="utf-8")
    s = load_settings(env={"EDGE_CONFIG": str(cfg), "EDGE_DATA_DIR": str(tmp_path)})
    assert s.library_dir == Path("/photos")
    assert s.imports_dir == Path("/photos/imports")  # derived from the explicit library_dir
    assert s.db_path == tmp_path / "library.db"


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({"EDGE_PORT": "eighty"}, "EDGE_PORT"),
        ({"EDGE_PORT": "70000"}, "port"),
        ({"EDGE_GUEST_ACCESS": "maybe"}, "EDGE_GUEST_ACCESS"),
        ({"EDGE_IMPORT_MODE": "sometimes"}, "import_mode"),
        ({"EDGE_DUPLICATE_THRESHOLD": "1.5"}, "duplicate_threshold"),
        ({"EDGE_LOG_LEVEL": "chatty"}, "log_level"),
        ({"EDGE_MAX_BATCH": "0"}, "max_batch must be >= 1"),
        ({"EDGE_MAX_QUEUE_DELAY_US": "-5"}, "max_queue_delay_us"),
        ({"EDGE_TOWER_QUEUE_SIZE": "many"}, "EDGE_TOWER_QUEUE_SIZE"),
        ({"EDGE_TLS": "maybe"}, "tls must be one of"),
        ({"EDGE_HTTP_REDIRECT_PORT": "-1"}, "http_redirect_port"),
        ({"EDGE_QUERY_IMAGES_MAX_COUNT": "0"}, "query_images_max_count"),
        ({"EDGE_UPLOAD_DAILY_BYTES": "0"}, "upload_daily_bytes"),
        ({"EDGE_MIN_FREE_DISK_BYTES": "-5"}, "min_free_disk_bytes"),
    ],
)
def test_bad_env_values_name_the_key(env: dict[str, str], needle: str) -> None:
    with pytest.raises(ConfigError, match=needle):
        load_settings(env=env)


def test_batching_settings_from_the_environment() -> None:
    env = {"EDGE_MAX_BATCH": "1", "EDGE_MAX_QUEUE_DELAY_US": "500", "EDGE_TOWER_QUEUE_SIZE": "8"}
    s = load_settings(env=env)
    assert (s.max_batch, s.max_queue_delay_us, s.tower_queue_size) == (1, 500, 8)


def test_unknown_toml_key_and_wrong_type_are_errors(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text("prot = 80\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="unknown setting 'prot'"):
        load_settings(cfg, env={})
    cfg.write_text('batch_size = "many"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="batch_size"):
        load_settings(cfg, env={})
    cfg.write_text("port = [\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_settings(cfg, env={})


def test_missing_explicit_config_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(env={"EDGE_CONFIG": str(tmp_path / "nope.toml")})


def test_settings_are_frozen_and_ensure_dirs_creates_them(tmp_path: Path) -> None:
    s = Settings(data_dir=tmp_path / "d")
    with pytest.raises(AttributeError):
        s.port = 1  # type: ignore[misc]
    s.ensure_dirs()
    assert s.library_dir.is_dir() and s.index_dir.is_dir() and s.imports_dir.is_dir()
