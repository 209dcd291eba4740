"""The soak script's short version: real daemon, real import, a real SIGKILL mid-import."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edge_bench.soak import SoakConfig, run_soak


def test_sigkill_mid_import_loses_and_doubles_nothing(
    tmp_path: Path, toy_bundle: Path, shapes_photos: list[Any]
) -> None:
    cfg = SoakConfig(
        toy_bundle, tmp_path / "data", duration_s=16, clients=3, base_photos=24,
        import_photos=200, kill_at=0.3,
    )  # fmt: skip
    result = run_soak(cfg, shapes_photos[0][0].parent, lambda msg: None)
    assert result["killed_at"]["state"] in ("scanning", "indexing")  # the kill hit the import
    assert result["wrong"] == 0, result["wrong_examples"]
    assert set(result["statuses"]) == {200}, result["statuses"]
    assert sum(result["statuses"].values()) > 20
    assert result["files"] == result["photos"] == result["embedded"] == 24 + 200
    assert not result["doubled"] and not result["missing"]
    assert result["index_matches_db"], result["index_error"]
