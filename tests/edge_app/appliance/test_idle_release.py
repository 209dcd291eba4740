"""The daemon frees the image tower after `image_model_idle_s` unused (real ONNX Runtime)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from PIL import Image

from edge_app.appliance.daemon import release_idle_image_tower
from edge_app.context import AppContext
from edge_app.errors import ConfigError
from edge_app.settings import Settings
from tests.edge_app.appliance.conftest import empty_library
from tests.edge_app.watch.harness import write_jpeg


def test_daemon_frees_the_idle_image_tower_and_search_reloads_it(
    tmp_path: Path, tiny_bundle: Path
) -> None:
    settings = empty_library(tmp_path, tiny_bundle, image_model_idle_s=0.2)
    write_jpeg(settings.library_dir / "a.jpg", seed=1)
    with AppContext.open(settings) as ctx:
        ctx.index_library()
        runner = ctx.encoder.image_runner
        assert not release_idle_image_tower(ctx)  # used just now by the indexer
        time.sleep(0.3)
        assert release_idle_image_tower(ctx) and not runner.loaded
        assert ctx.encoder.text_runner.loaded  # text search stays instant
        photo = Image.new("RGB", (64, 48), (200, 30, 30))
        assert ctx.encoder.encode_images([photo]).shape == (1, ctx.encoder.dim)
        assert runner.loaded
    with pytest.raises(ConfigError, match="image_model_idle_s"):
        Settings(data_dir=tmp_path, bundle_dir=tiny_bundle, image_model_idle_s=-1)
