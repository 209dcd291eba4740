"""`edge-bench ocr`: OCR quality and speed on photos with ground-truth words and boxes.

Truth file: JSON lines ``{"image", "lines": [{"text", "box"}], "ignore": [box], "query_words"}``
(the format of /work/shared/photos/scene_text/ground_truth.jsonl; ICDAR 2015 annotates
words, so a truth "line" is a word box). Metrics, per backend:

* box recall: truth boxes whose centre lies inside a predicted line box; box precision:
  predicted boxes containing a truth centre (boxes centred in an ``ignore`` region are
  not counted: that text is real but illegible);
* word recall / precision: case-insensitive, punctuation-stripped words matched as a
  multiset per image (predicted words from ignore regions not counted);
* CER: Levenshtein edits (rapidfuzz) between each detected truth word and the closest
  predicted word of its box, over the truth characters; "end-to-end" counts a missed
  word as all-wrong;
* find-by-word recall@1: each query word typed as ``text:"WORD"`` into the app's own
  search (`edge_app.search.text_search.search_with_text` over a real SQLite library
  holding the predicted lines of all photos): whole-word matches first, then matches
  inside longer words, then words read one character off (5+ letters,
  `edge_app.library.near_words`), confidence within each; a hit when the first photo's
  truth contains the word. ``find_by_word_exact_r1``: the exact tiers only
  (`Library.text_hits` without ``near``), so the gain of the tolerant tier shows;
  ``find_by_word_substring_r1``: the earliest rule (any substring, best line confidence
  first), for comparison;
* photos/s, detection and recognition seconds per photo, and the gate: photos where
  detection found nothing (recognition skipped) and how many of those had legible words.
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

_PUNCT = re.compile(r"^\W+|\W+$")


def load_truth(path: Path, limit: int | None = None) -> list[dict[str, Any]]:
    rows = [
        json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()
    ]
    return rows[:limit] if limit else rows


def norm_word(word: str) -> str:
    return _PUNCT.sub("", word).lower()


def _inside(point: tuple[float, float], box: Sequence[Sequence[float]]) -> bool:
    poly = np.asarray(box, dtype=np.float32).reshape(-1, 1, 2)
    return cv2.pointPolygonTest(poly, (float(point[0]), float(point[1])), False) >= 0


def _centre(box: Sequence[Sequence[float]]) -> tuple[float, float]:
    arr = np.asarray(box, dtype=np.float64)
    return float(arr[:, 0].mean()), float(arr[:, 1].mean())


@dataclass
class _Run:
    """One configuration being measured: an open engine, its predictions and timings."""

    name: str
    engine: Any
    preds: list[list[dict[str, Any]]] = field(default_factory=list)
    det_s: float = 0.0
    rec_s: float = 0.0
    gated: int = 0

    def read(self, rgb: np.ndarray, scale: float) -> None:
        t0 = time.perf_counter()
        boxes = self.engine.detect(rgb)
        t1 = time.perf_counter()
        lines = self.engine.read_boxes(rgb, boxes) if boxes else []
        self.det_s += t1 - t0
        self.rec_s += time.perf_counter() - t1
        self.gated += not boxes
        self.preds.append(
            [
                {"text": ln.text, "score": ln.score,
                 "box": [[x * scale, y * scale] for x, y in ln.box]}
                for ln in lines
            ]
        )  # fmt: skip

    def speed(self) -> dict[str, float]:
        n = max(len(self.preds), 1)
        return {
            "photos_per_s": n / max(self.det_s + self.rec_s, 1e-9),
            "detect_s_per_photo": self.det_s / n,
            "recognize_s_per_photo": self.rec_s / n,
            "gated_no_text": self.gated,
        }


def read_all(
    configs: Sequence[tuple[str, Path, str, int | None]],
    images: Path,
    truth: list[dict[str, Any]],
    max_side: int,
    log: Callable[[str], None],
) -> list[_Run]:
    """Predicted lines per image (pixels of the full image) and timings per configuration.

    Configurations are (name, bundle, backend, detector side). Every photo is decoded once
    and read by each configuration in turn, so a shared machine's changing load touches
    all of them alike (ratios measured side by side, not one run after the other).
    """
    from edge_app.enrich.ocr_pass import load_for_ocr
    from engines.ocr import open_ocr

    with ExitStack() as stack:
        runs = [
            _Run(name, stack.enter_context(open_ocr(bundle, prefer=prefer, det_max_side=side)))
            for name, bundle, prefer, side in configs
        ]
        first = load_for_ocr(images / truth[0]["image"], max_side, 10**9)
        for run in runs:
            run.engine.read(first)  # warm-up
        for n, row in enumerate(truth, start=1):
            rgb = load_for_ocr(images / row["image"], max_side, 10**9)
            scale = row.get("width", rgb.shape[1]) / rgb.shape[1]
            for run in runs:
                run.read(rgb, scale)
            if n % 20 == 0:
                log(f"{n} of {len(truth)} photos read by {len(runs)} configurations")
    return runs


def box_metrics(truth: list[dict[str, Any]], preds: list[list[dict[str, Any]]]) -> dict[str, float]:
    found = total = good = counted = 0
    for row, lines in zip(truth, preds, strict=True):
        centres = [_centre(t["box"]) for t in row["lines"]]
        total += len(centres)
        found += sum(any(_inside(c, p["box"]) for p in lines) for c in centres)
        for p in lines:
            if any(_inside(_centre(p["box"]), ig) for ig in row.get("ignore", [])):
                continue
            counted += 1
            good += any(_inside(c, p["box"]) for c in centres)
    return {"box_recall": found / max(total, 1), "box_precision": good / max(counted, 1)}


def word_metrics(
    truth: list[dict[str, Any]], preds: list[list[dict[str, Any]]]
) -> dict[str, float]:
    from rapidfuzz.distance import Levenshtein

    tp = n_true = n_pred = edits = chars = detected_chars = 0
    for row, lines in zip(truth, preds, strict=True):
        kept = [
            p
            for p in lines
            if not any(_inside(_centre(p["box"]), ig) for ig in row.get("ignore", []))
        ]
        want = Counter(
            w for t in row["lines"] for raw in t["text"].split() if (w := norm_word(raw))
        )
        got = Counter(w for p in kept for raw in p["text"].split() if (w := norm_word(raw)))
        tp += sum((want & got).values())
        n_true, n_pred = n_true + sum(want.values()), n_pred + sum(got.values())
        for t in row["lines"]:
            near = [
                norm_word(w)
                for p in lines
                if _inside(_centre(t["box"]), p["box"])
                for w in p["text"].split()
            ]
            for word in filter(None, map(norm_word, t["text"].split())):
                chars += len(word)
                if near:
                    detected_chars += len(word)
                    edits += min(Levenshtein.distance(word, w) for w in near)
    missed = chars - detected_chars
    return {
        "word_recall": tp / max(n_true, 1),
        "word_precision": tp / max(n_pred, 1),
        "cer_detected": edits / max(detected_chars, 1),
        "cer_end_to_end": (edits + missed) / max(chars, 1),
    }


class _TextOnlySearcher:
    """The `Searcher` that `search_with_text` needs for ``text:`` queries: a library only
    (a text-only query never asks for a vector; if it did, the bench would be wrong)."""

    def __init__(self, library: Any) -> None:
        self.library = library

    def query_vector(self, parsed: Any) -> np.ndarray:
        raise RuntimeError(f"edge-bench ocr: {parsed} asked for a vector")

    def search_vector(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("edge-bench ocr: a text: query asked for a vector search")


def _library_of(preds: list[list[dict[str, Any]]], db: Path) -> tuple[Any, list[int]]:
    """A real library holding one photo per truth row and its predicted lines."""
    from edge_app.library.ocr_store import OcrLineRow
    from edge_app.library.records import PhotoMeta
    from edge_app.library.store import Library

    lib = Library(db)
    vec = np.ones(4, np.float32) / 2
    metas = [(PhotoMeta(f"{i}.jpg", 1, 1, sha256=f"{i:064x}"), vec) for i in range(len(preds))]
    ids = lib.record_photos(metas, "bench")
    for pid, i, lines in zip(ids, range(len(preds)), preds, strict=True):
        rows = [OcrLineRow(p["text"], p["score"], tuple(map(tuple, p["box"]))) for p in lines]
        lib.record_ocr(pid, f"{i:064x}", "done" if rows else "no_text", rows)
    return lib, ids


def find_by_word(
    truth: list[dict[str, Any]], preds: list[list[dict[str, Any]]]
) -> dict[str, float]:
    """Recall@1 of ``text:"WORD"`` through the app's own search (`search_with_text` over a
    real SQLite library of the predicted lines), the exact tiers only, and the old rule."""
    import tempfile

    from edge_app.library.ocr_store import fold
    from edge_app.search.query import parse_query
    from edge_app.search.text_search import search_with_text

    texts = [[(fold(p["text"]), p["score"]) for p in lines] for lines in preds]
    owners = [{norm_word(w) for t in row["lines"] for w in t["text"].split()} for row in truth]
    hits = exact = old = queries = 0
    with tempfile.TemporaryDirectory(prefix="ocr-bench-") as tmp:
        lib, ids = _library_of(preds, Path(tmp) / "library.db")
        index = {pid: i for i, pid in enumerate(ids)}
        searcher = _TextOnlySearcher(lib)
        try:
            for word in (w for row in truth for w in row.get("query_words", [])):
                queries += 1
                owns = norm_word(word)
                page = search_with_text(
                    searcher, parse_query(f'text:"{word}"'), None,
                    limit=1, offset=0, min_score=None,
                )  # fmt: skip
                hits += bool(page.results) and owns in owners[index[page.results[0].photo_id]]
                strict = lib.text_hits(word)
                exact += bool(strict) and owns in owners[index[strict[0].photo_id]]
                q = fold(word)
                found = [(-s, i) for i, lines in enumerate(texts) for t, s in lines if q in t]
                old += bool(found) and owns in owners[min(found)[1]]
        finally:
            lib.close()
    return {
        "find_by_word_recall_at_1": hits / max(queries, 1),
        "find_by_word_exact_r1": exact / max(queries, 1),
        "find_by_word_substring_r1": old / max(queries, 1),
        "queries": float(queries),
    }


def run_ocr_bench(
    images: Path,
    truth_file: Path,
    bundles: Sequence[Path],
    prefers: Sequence[str],
    limit: int | None,
    max_side: int,
    log: Callable[[str], None],
    det_sides: Sequence[int] = (),
) -> dict[str, Any]:
    """Every bundle x detector size x backend on the same photos, one after the other.

    Rows are named ``BUNDLE-FOLDER: FAMILY det SIDE BACKEND`` (no `det_sides`: each
    bundle's own choice).
    """
    from engines.manifest import Manifest

    truth = load_truth(truth_file, limit)
    if not truth:
        raise ValueError(f"{truth_file} has no rows")
    results: dict[str, Any] = {
        "photos": len(truth),
        "truth_words": sum(len(r["lines"]) for r in truth),
        "backends": {},
    }
    configs = []
    for bundle in bundles:
        spec = Manifest.load(bundle).ocr
        family, own = (spec.family, spec.det_side) if spec else ("no OCR", 0)
        for side in det_sides or (own,):
            name = f"{bundle.name}: {family} det {side}"
            configs += [(f"{name} {p}", bundle, p, side) for p in prefers]
    for run in read_all(configs, images, truth, max_side, log):
        results["backends"][run.name] = _metrics(truth, run.preds, run.speed())
    return results


def _metrics(
    truth: list[dict[str, Any]], preds: list[list[dict[str, Any]]], speed: dict[str, float]
) -> dict[str, float]:
    missed = sum(1 for r, p in zip(truth, preds, strict=True) if not p and r["lines"])
    return {
        **speed,
        **box_metrics(truth, preds),
        **word_metrics(truth, preds),
        **find_by_word(truth, preds),
        "no_lines_but_truth_words": missed,
    }


COLUMNS = (
    "photos_per_s",
    "detect_s_per_photo",
    "recognize_s_per_photo",
    "box_recall",
    "box_precision",
    "word_recall",
    "word_precision",
    "cer_detected",
    "cer_end_to_end",
    "find_by_word_recall_at_1",
    "find_by_word_exact_r1",
    "find_by_word_substring_r1",
    "gated_no_text",
)


def ocr_markdown(payload: dict[str, Any], charts: list[str]) -> str:
    from edge_bench import report

    intro = (
        f"{payload['photos']} photos, {payload['truth_words']} ground-truth words. "
        "Metric definitions: `edge_bench/ocr_bench.py` docstring."
    )
    rows = [[name, *[m[c] for c in COLUMNS]] for name, m in payload["backends"].items()]
    text = report.header("OCR quality and speed", payload["command"], payload["machine"], intro)
    return text + "\n## Results\n\n" + report.table(["backend", *COLUMNS], rows) + "\n"
