"""Typed daemon settings: defaults, then a TOML file, then ``EDGE_*`` environment variables.

Why this order: the appliance ships a TOML file under ``/etc/edge-search`` that an
administrator edits, while systemd units and tests override single values through the
environment without rewriting the file. Every value is parsed and checked here, once, so
the rest of the daemon can trust ``Settings`` and a typo fails at start-up with a
`ConfigError` that names the key instead of half-way through an import.

Paths derived from ``data_dir`` (library, database, index, thumbnails, bundle, imports,
secret key) follow ``data_dir`` unless they are set explicitly; after construction every
path field holds a real `Path`. To move a whole installation build a new
``Settings(data_dir=...)`` (``dataclasses.replace`` keeps already-derived paths). Nothing is read or
created at import time.
"""

from __future__ import annotations

import logging
import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from edge_app.errors import ConfigError

log = logging.getLogger(__name__)

DEFAULT_CONFIG_PATH = Path("/etc/edge-search/config.toml")
DEFAULT_DATA_DIR = Path("/var/lib/edge-search")
CONFIG_ENV = "EDGE_CONFIG"
ENV_PREFIX = "EDGE_"
IMPORT_MODES = ("auto", "ask")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
WATCH_MODES = ("auto", "poll", "off")
# auto: HTTPS with the box's own certificate (or the owner's, `edge-app tls install`);
# proxy: plain HTTP for a TLS-terminating reverse proxy (cookies still Secure); off: plain
# HTTP (development only: passwords and cookies cross the network in clear text)
TLS_MODES = ("auto", "proxy", "off")  # auto: inotify, polling where it cannot work
# Pillow's own decompression-bomb *error* limit (2 x MAX_IMAGE_PIXELS): ~179 MP.
DEFAULT_MAX_IMAGE_PIXELS = 178_956_970

# Environment variables whose name is not simply EDGE_<FIELD>.
ENV_ALIASES = {"EDGE_BACKEND": "backend_prefer"}
# Default of the derived path fields: "compute me from data_dir". A NUL byte can never be
# part of a real file name, so the sentinel cannot collide with a configured path.
DERIVED = Path("\0derived")
# Paths computed from data_dir (or library_dir) when not given explicitly.
_DERIVED_PATHS = (
    "library_dir",
    "db_path",
    "index_dir",
    "thumbs_dir",
    "bundle_dir",
    "imports_dir",
    "secret_key_file",
)


@dataclass(frozen=True)
class Settings:
    """Everything the daemon, CLI and web app are configured with (immutable)."""

    data_dir: Path = DEFAULT_DATA_DIR
    library_dir: Path = DERIVED  # photos live here (data_dir/library)
    db_path: Path = DERIVED  # SQLite library (data_dir/library.db)
    index_dir: Path = DERIVED  # FAISS index + generation (data_dir/index)
    thumbs_dir: Path = DERIVED  # JPEG thumbnails (data_dir/thumbs)
    bundle_dir: Path = DERIVED  # engine bundle (data_dir/bundle)
    imports_dir: Path = DERIVED  # USB copies land here (library_dir/imports)
    secret_key_file: Path = DERIVED  # Flask session key (data_dir/secret_key)
    backend_prefer: str | None = None  # "openvino", "tensorrt:fp16", ... (None = auto)
    host: str = "0.0.0.0"
    port: int = 8443  # the web UI and API (HTTPS unless tls says otherwise)
    tls: str = "auto"  # see TLS_MODES
    http_redirect_port: int = 8080  # plain HTTP that redirects to HTTPS (0 = none)
    batch_size: int = 32
    decode_workers: int = 2
    ann_threshold: int = 50_000
    duplicate_threshold: float = 0.95
    max_upload_bytes: int = 20 * 1024 * 1024
    max_photo_upload_bytes: int = 200 * 1024 * 1024  # one photo uploaded into the library
    max_image_pixels: int = DEFAULT_MAX_IMAGE_PIXELS
    guest_access: bool = False
    import_mode: str = "ask"
    log_level: str = "INFO"
    library_roots: tuple[Path, ...] = ()  # extra photo folders indexed in place, read-only
    watch_mode: str = "auto"  # auto (inotify, else polling) | poll | off
    poll_interval_s: float = 300.0  # rescan period of roots that cannot be watched
    # the image tower is freed after this long unused (0 = never); the next photo search
    # or import loads it again in a few seconds (Immich's ML service does the same)
    image_model_idle_s: float = 300.0
    watch_settle_s: float = 2.0  # a file must be unchanged this long before it is indexed
    ocr_enabled: bool = True  # read text in photos after embedding, when the bundle has OCR
    ocr_max_side: int = 2048  # photos are decoded at most this long for OCR (bounded cost)
    ocr_det_side: int = 0  # detector input bound; 0 = the bundle's measured choice (det_side)
    tag_threshold: float = 3.0  # calibrated tag score (robust z, docs/TAGS.md) to assign a tag
    tag_builtin_sets: str = "everyday"  # comma-separated built-in label sets the daemon installs
    # dynamic batching per tower (engines/batching.py): rows coalesced into one inference
    # (<= 1: off), how long the first request waits for company, and how many requests may
    # wait before searches get 503 + Retry-After
    max_batch: int = 16
    max_queue_delay_us: int = 2000
    tower_queue_size: int = 64
    query_images_max_count: int = 500  # image-search uploads kept; the oldest go first
    query_images_max_bytes: int = 100 * 1024 * 1024
    upload_daily_bytes: int = 2 * 1024**3  # per web session and day (query + photo uploads)
    min_free_disk_bytes: int = 1024**3  # imports and uploads pause below this much free space
    # People (faces) is switched on by the admin at run time (library meta, off by default);
    # these only tune it. Threshold and sizes: docs/benchmarks/faces-cpu/
    faces_model_dir: Path | None = None  # dlib face models (None = bundle_dir/faces)
    faces_detector: str = "hog"  # hog (fast, dlib built-in) | mmod (CNN: ~30x slower on a CPU)
    faces_det_side: int = 1024  # detection image long side: cost per photo, smallest face found
    faces_threshold: float = 0.5  # descriptor distance to join a person (dlib: same person < 0.6)
    faces_min_quality: float = 0.3  # smaller/weaker faces are stored but never clustered

    def __post_init__(self) -> None:
        """Fill derived paths so that callers never see ``None`` for a path."""
        data = Path(self.data_dir)
        object.__setattr__(self, "data_dir", data)
        library = data / "library" if self.library_dir == DERIVED else Path(self.library_dir)
        defaults = {
            "library_dir": library,
            "db_path": data / "library.db",
            "index_dir": data / "index",
            "thumbs_dir": data / "thumbs",
            "bundle_dir": data / "bundle",
            "imports_dir": library / "imports",
            "secret_key_file": data / "secret_key",
        }
        for name in _DERIVED_PATHS:
            value = getattr(self, name)
            object.__setattr__(self, name, defaults[name] if value == DERIVED else Path(value))
        object.__setattr__(self, "library_roots", tuple(Path(p) for p in self.library_roots))
        _validate(self)

    @property
    def faces_models(self) -> Path:
        """Folder of the dlib face models (``faces_model_dir``, else the bundle's faces/)."""
        return Path(self.faces_model_dir) if self.faces_model_dir else self.bundle_dir / "faces"

    def ensure_dirs(self) -> None:
        """Create the writable directories; called by the daemon, never at import."""
        for path in (self.data_dir, self.library_dir, self.index_dir, self.thumbs_dir):
            path.mkdir(parents=True, exist_ok=True)
        self.imports_dir.mkdir(parents=True, exist_ok=True)


def load_settings(
    config_path: Path | None = None, env: Mapping[str, str] | None = None
) -> Settings:
    """Defaults < TOML file < ``EDGE_*`` environment; raises `ConfigError` naming the key.

    The file is ``config_path``, else ``$EDGE_CONFIG``, else ``/etc/edge-search/config.toml``
    if it exists. An explicitly named file that does not exist is an error (a typo in a
    unit file must not silently run with defaults).
    """
    environ = os.environ if env is None else env
    values: dict[str, Any] = {}
    path = _config_file(config_path, environ)
    if path is not None:
        values.update(_read_toml(path))
    values.update(_env_values(environ))
    try:
        return Settings(**values)
    except TypeError as exc:
        raise ConfigError(f"invalid settings: {exc}") from exc


def _config_file(config_path: Path | None, environ: Mapping[str, str]) -> Path | None:
    if config_path is not None:
        explicit: Path | None = Path(config_path)
    elif environ.get(CONFIG_ENV):
        explicit = Path(environ[CONFIG_ENV])
    else:
        explicit = None
    if explicit is None:
        return DEFAULT_CONFIG_PATH if DEFAULT_CONFIG_PATH.is_file() else None
    if not explicit.is_file():
        raise ConfigError(f"config file {explicit} does not exist: fix the path or {CONFIG_ENV}")
    return explicit


def _read_toml(path: Path) -> dict[str, Any]:
    """Parse the file; sections (``[server]``, ...) are flattened, keys must be known."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read config file {path}: {exc}") from exc
    flat: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            flat.update({k: (f"{key}.{k}", v) for k, v in value.items()})
        else:
            flat[key] = (key, value)
    return {name: _parse(name, raw, f"{path}: {where}") for name, (where, raw) in flat.items()}


def _env_values(environ: Mapping[str, str]) -> dict[str, Any]:
    known = {f.name for f in fields(Settings)}
    out: dict[str, Any] = {}
    for var, raw in environ.items():
        if not var.startswith(ENV_PREFIX) or var == CONFIG_ENV:
            continue
        name = ENV_ALIASES.get(var, var[len(ENV_PREFIX) :].lower())
        if name in known:
            out[name] = _parse(name, raw, var)
        else:
            log.warning("ignoring environment variable %s: no such setting", var)
    return out


def _parse(name: str, raw: Any, where: str) -> Any:
    """Convert one raw value (TOML typed or env string) to the field's type."""
    parser = _PARSERS.get(name)
    if parser is None:
        valid = ", ".join(sorted(_PARSERS))
        raise ConfigError(f"{where}: unknown setting {name!r} (valid settings: {valid})")
    try:
        return parser(raw)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: invalid value {raw!r} for {name}: {exc}") from exc


def _as_int(raw: Any) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int | str):
        raise TypeError("expected an integer")
    return int(str(raw).replace("_", "").strip())


def _as_float(raw: Any) -> float:
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        raise TypeError("expected a number")
    return float(raw)


def _as_bool(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError("expected true/false, yes/no, on/off or 1/0")


def _as_str(raw: Any) -> str:
    if not isinstance(raw, str):
        raise TypeError("expected a string")
    return raw.strip()


def _as_path(raw: Any) -> Path:
    text = _as_str(raw)
    if not text:
        raise ValueError("expected a non-empty path")
    return Path(text).expanduser()


def _as_path_list(raw: Any) -> tuple[Path, ...]:
    """TOML list of paths, or an ``os.pathsep``-separated string (``EDGE_LIBRARY_ROOTS``)."""
    items = raw.split(os.pathsep) if isinstance(raw, str) else raw
    if not isinstance(items, list | tuple):
        raise TypeError("expected a list of folders")
    return tuple(_as_path(item) for item in items if not isinstance(item, str) or item.strip())


def _as_optional_str(raw: Any) -> str | None:
    text = _as_str(raw)
    return text or None


_PARSERS: dict[str, Callable[[Any], Any]] = {
    "data_dir": _as_path,
    **{name: _as_path for name in _DERIVED_PATHS},
    "backend_prefer": _as_optional_str,
    "host": _as_str,
    "port": _as_int,
    "tls": lambda raw: _as_str(raw).lower(),
    "http_redirect_port": _as_int,
    "batch_size": _as_int,
    "decode_workers": _as_int,
    "ann_threshold": _as_int,
    "duplicate_threshold": _as_float,
    "max_upload_bytes": _as_int,
    "max_photo_upload_bytes": _as_int,
    "max_image_pixels": _as_int,
    "guest_access": _as_bool,
    "import_mode": lambda raw: _as_str(raw).lower(),
    "log_level": lambda raw: _as_str(raw).upper(),
    "library_roots": _as_path_list,
    "watch_mode": lambda raw: _as_str(raw).lower(),
    "poll_interval_s": _as_float,
    "watch_settle_s": _as_float,
    "image_model_idle_s": _as_float,
    "ocr_enabled": _as_bool,
    "ocr_max_side": _as_int,
    "ocr_det_side": _as_int,
    "tag_threshold": _as_float,
    "tag_builtin_sets": lambda raw: _as_str(raw).strip(),
    **{name: _as_int for name in ("max_batch", "max_queue_delay_us", "tower_queue_size")},
    "query_images_max_count": _as_int,
    "query_images_max_bytes": _as_int,
    "upload_daily_bytes": _as_int,
    "min_free_disk_bytes": _as_int,
    "faces_model_dir": _as_path,
    "faces_detector": lambda raw: _as_str(raw).lower(),
    "faces_det_side": _as_int,
    "faces_threshold": _as_float,
    "faces_min_quality": _as_float,
}


def _validate(s: Settings) -> None:
    """Range checks: a value that parses but cannot work is still a config error."""
    checks: list[tuple[bool, str]] = [
        (1 <= s.port <= 65535, f"port must be 1..65535, got {s.port}"),
        (s.tls in TLS_MODES, f"tls must be one of {TLS_MODES}, got {s.tls!r}"),
        (
            0 <= s.http_redirect_port <= 65535,
            f"http_redirect_port must be 0..65535 (0 = none), got {s.http_redirect_port}",
        ),
        *_cap_checks(s),
        (s.batch_size >= 1, f"batch_size must be >= 1, got {s.batch_size}"),
        (s.decode_workers >= 1, f"decode_workers must be >= 1, got {s.decode_workers}"),
        (s.ann_threshold >= 1, f"ann_threshold must be >= 1, got {s.ann_threshold}"),
        (
            0.0 < s.duplicate_threshold <= 1.0,
            f"duplicate_threshold must be in (0, 1], got {s.duplicate_threshold}",
        ),
        (s.max_upload_bytes >= 1, f"max_upload_bytes must be >= 1, got {s.max_upload_bytes}"),
        (
            s.max_photo_upload_bytes >= 1,
            f"max_photo_upload_bytes must be >= 1, got {s.max_photo_upload_bytes}",
        ),
        (s.max_image_pixels >= 1, f"max_image_pixels must be >= 1, got {s.max_image_pixels}"),
        (
            s.import_mode in IMPORT_MODES,
            f"import_mode must be one of {IMPORT_MODES}, got {s.import_mode!r}",
        ),
        (s.log_level in LOG_LEVELS, f"log_level must be one of {LOG_LEVELS}, got {s.log_level!r}"),
        (bool(s.host), "host must not be empty"),
        (
            s.watch_mode in WATCH_MODES,
            f"watch_mode must be one of {WATCH_MODES}, got {s.watch_mode!r}",
        ),
        (s.poll_interval_s >= 1.0, f"poll_interval_s must be >= 1, got {s.poll_interval_s}"),
        (
            s.image_model_idle_s >= 0,
            f"image_model_idle_s must be >= 0 (0 = never release), got {s.image_model_idle_s}",
        ),
        (
            0.0 <= s.watch_settle_s <= 600,
            f"watch_settle_s must be in 0..600, got {s.watch_settle_s}",
        ),
        (s.ocr_max_side >= 64, f"ocr_max_side must be >= 64, got {s.ocr_max_side}"),
        (
            s.ocr_det_side == 0 or s.ocr_det_side >= 64,
            f"ocr_det_side must be 0 (the bundle's choice) or >= 64, got {s.ocr_det_side}",
        ),
        (0.0 < s.tag_threshold <= 50.0, f"tag_threshold must be in (0, 50], got {s.tag_threshold}"),
        (s.max_batch >= 1, f"max_batch must be >= 1 (1 = no batching), got {s.max_batch}"),
        (
            0 <= s.max_queue_delay_us <= 1_000_000,
            f"max_queue_delay_us must be in 0..1000000, got {s.max_queue_delay_us}",
        ),
        (s.tower_queue_size >= 1, f"tower_queue_size must be >= 1, got {s.tower_queue_size}"),
        (s.faces_detector in ("hog", "mmod"), f"faces_detector must be hog or mmod, got {s.faces_detector!r}"),
        (s.faces_det_side >= 160, f"faces_det_side must be >= 160, got {s.faces_det_side}"),
        (0.0 < s.faces_threshold < 2.0, f"faces_threshold must be in (0, 2), got {s.faces_threshold}"),
        (0.0 <= s.faces_min_quality <= 1.0, f"faces_min_quality must be in 0..1, got {s.faces_min_quality}"),
    ]
    for ok, message in checks:
        if not ok:
            raise ConfigError(message)


def _cap_checks(s: Settings) -> list[tuple[bool, str]]:
    """Storage caps: each must allow something (a cap of 0 would refuse every upload)."""
    return [
        (s.query_images_max_count >= 1, "query_images_max_count must be >= 1"),
        (s.query_images_max_bytes >= 1, "query_images_max_bytes must be >= 1"),
        (s.upload_daily_bytes >= 1, "upload_daily_bytes must be >= 1"),
        (s.min_free_disk_bytes >= 0, "min_free_disk_bytes must be >= 0 (0 = no floor)"),
    ]
