"""`edge-bench retag` at a small size: the maths and the real SQLite path agree."""

from __future__ import annotations

import json
from pathlib import Path

from edge_bench.cli import main


def test_retag_bench_maths_and_library_agree(tmp_path: Path) -> None:
    code = main(
        ["retag", "--photos", "3000", "--labels", "40", "--dim", "64", "--out", str(tmp_path)]
    )
    assert code == 0
    results = json.loads((tmp_path / "retag.json").read_text())["results"]
    assert results["maths_tags"] > 0
    # the library stores float16 embeddings: a few borderline scores may cross the threshold
    written, maths = results["library_retag"]["tags_written"], results["maths_tags"]
    assert abs(written - maths) <= max(2, 0.05 * maths)
    assert "100,000" not in (tmp_path / "retag.md").read_text()
