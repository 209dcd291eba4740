"""`edge-bench ocr` on real photos with drawn words and a ground-truth file written here."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from edge_bench.cli import main as edge_bench
from tests.edge_app.enrich.ocr_fixtures import NO_TEXT, PHOTOS, write_text_photos


def _truth(folder: Path) -> Path:
    """Ground truth in the scene_text format; boxes from the drawing positions (roughly)."""
    rows = []
    for name, (_, words) in PHOTOS.items():
        lines = []
        for w in words:
            x, y = w.xy
            width = w.size * len(w.text) * (1.0 if ord(w.text[0]) > 0x2E80 else 0.75)
            lines.append(
                {
                    "text": w.text,
                    "box": [
                        [x, y],
                        [x + width, y],
                        [x + width, y + w.size * 1.4],
                        [x, y + w.size * 1.4],
                    ],
                }
            )
        rows.append(
            {"image": name, "lines": lines, "ignore": [], "query_words": [words[0].text.split()[0]]}
        )
    rows.append({"image": NO_TEXT[0], "lines": [], "ignore": [], "query_words": []})
    path = folder / "truth.jsonl"
    path.write_text(
        "\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8"
    )
    return path


def test_ocr_bench_reports_quality_and_speed(tmp_path: Path, ocr_bundle: Path) -> None:
    images = tmp_path / "photos"
    write_text_photos(images)
    out = tmp_path / "out"
    code = edge_bench(["ocr", "--images", str(images), "--truth", str(_truth(tmp_path)),
                       "--bundle", str(ocr_bundle), "--out", str(out)])  # fmt: skip
    assert code == 0
    payload = json.loads((out / "ocr.json").read_text(encoding="utf-8"))
    row = f"{ocr_bundle.name}: PP-OCRv4 det + PP-OCRv6 rec det 960"  # the bundle's own size
    assert set(payload["backends"]) == {f"{row} onnxruntime", f"{row} openvino:fp32"}
    for m in payload["backends"].values():
        assert m["box_recall"] == 1.0 and m["word_recall"] >= 0.8  # "PART 4711" is two words
        assert m["cer_detected"] <= 0.1 and m["find_by_word_recall_at_1"] == 1.0
        assert m["gated_no_text"] == 1 and m["photos_per_s"] > 0
    assert payload["machine"]["cpu_flags"] is not None
    md = (out / "ocr.md").read_text(encoding="utf-8")
    assert "edge-bench ocr --images" in md and f"| {row} openvino:fp32 |" in md


def test_ocr_bench_with_an_empty_truth_file_is_a_clear_error(
    tmp_path: Path, ocr_bundle: Path
) -> None:
    (tmp_path / "truth.jsonl").write_text("", encoding="utf-8")
    code = edge_bench(["ocr", "--images", str(tmp_path), "--truth", str(tmp_path / "truth.jsonl"),
                       "--bundle", str(ocr_bundle), "--out", str(tmp_path / "out")])  # fmt: skip
    assert code == 2


def test_find_by_word_goes_through_the_search_and_reports_the_exact_tiers_beside() -> None:
    """Predicted lines (as if read) for three photos: the app's search ranks the whole word
    "the" above "THEATRE" (0.99), and finds "panic" read as "PAHIC" only in its lowest tier,
    which the exact-only figure leaves out; the old rule (any substring) ranks THEATRE first."""
    from edge_bench.ocr_bench import find_by_word

    def line(text: str, score: float) -> dict[str, Any]:
        return {"text": text, "score": score, "box": [[0, 0], [9, 0], [9, 9], [0, 9]]}

    truth: list[dict[str, Any]] = [
        {"lines": [{"text": "THEATRE"}], "query_words": []},
        {"lines": [{"text": "the"}, {"text": "end"}], "query_words": ["the"]},
        {"lines": [{"text": "PANIC"}], "query_words": ["panic"]},
    ]
    preds = [[line("THEATRE", 0.99)], [line("the end", 0.6)], [line("DONT PAHIC", 0.9)]]
    got = find_by_word(truth, preds)
    assert got["queries"] == 2
    assert got["find_by_word_recall_at_1"] == 1.0  # "the" and (one edit off) "panic"
    assert got["find_by_word_exact_r1"] == 0.5  # "panic" was never read exactly
    assert got["find_by_word_substring_r1"] == 0.0  # THEATRE (0.99) first; PAHIC not found
