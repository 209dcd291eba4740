"""`edge-bench faces`: People quality and cost on the shared evaluation photos.

* verification: LFW deep-funneled, View-2 folds 1-3 (1,800 pairs); the distance threshold
  for each fold is the one that maximises accuracy on the other two (cross-validation);
* detection: the 43 hand-boxed faces of dlib's 9 PASCAL VOC photos (training.xml +
  testing.xml), greedy matching at IoU >= 0.3 (dlib's annotation style is tighter than
  its detector's boxes on some faces), per detection size (``faces_det_side``);
* clustering: `deepface_people` (13 people, 61 photos) through the REAL face pass and
  grouping code (`FacePass`, a real SQLite library), photos arriving in 4 imports; the
  detector's output is computed once and replayed per threshold (`ReplayFinder`). Each
  photo's largest face carries its label; pairwise precision/recall/F1 over photos, and
  "merged" = a person holding faces of two labels;
* threshold choice on other data: `dlib_johns` chips (5 people) sweep;
* cost: seconds per photo without faces (the pass's decode + detection on ordinary
  photos) and per face (landmarks + chip + descriptor), with the CPU flags.
"""

from __future__ import annotations

import csv
import itertools
import tempfile
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

Log = Callable[[str], None]
LFW_FALLBACK = (70, 70, 180, 180)  # deep-funneled faces are centred in 250x250
SWEEP = (0.40, 0.45, 0.50, 0.55, 0.60)


def _rgb(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


# ----------------------------------------------------------------------------- verification
def lfw_pairs(lfw: Path) -> list[tuple[int, Path, Path, bool]]:
    lines = (lfw / "pairs_folds_1_3.txt").read_text().split("\n")
    folds, per = (int(x) for x in lines[0].split())
    img = lambda name, n: lfw / "images" / name / f"{name}_{int(n):04d}.jpg"  # noqa: E731
    out = []
    rows = [ln.split() for ln in lines[1:] if ln.strip()]
    for fold in range(folds):
        for k, row in enumerate(rows[fold * 2 * per : (fold + 1) * 2 * per]):
            same = k < per
            a, b = (
                (img(row[0], row[1]), img(row[0], row[2]))
                if same
                else (img(row[0], row[1]), img(row[2], row[3]))
            )
            out.append((fold, a, b, same))
    return out


def centred_face(faces: Sequence[Any], width: int, height: int) -> Any | None:
    """The best-scoring face whose box holds the image centre (LFW centres its subject);
    a face elsewhere is another person in the frame, never the subject."""
    cx, cy = width / 2, height / 2
    inside = [f for f in faces if f.box[0] <= cx <= f.box[2] and f.box[1] <= cy <= f.box[3]]
    return max(inside, key=lambda f: f.score) if inside else None


def lfw_descriptor(engine: Any, path: Path, second: Any | None = None) -> tuple[np.ndarray, str]:
    """The centred face by the engine's detector, else by ``second`` (the MMOD detector),
    else the fixed centre box; the second item says which ("hog", "mmod", "centre_box")."""
    rgb = _rgb(path)
    for finder, name in ((engine, "hog"), (second, "mmod")):
        if finder is not None:
            face = centred_face(finder.analyse(rgb), rgb.shape[1], rgb.shape[0])
            if face is not None:
                return face.embedding, name
    return engine.describe_box(rgb, LFW_FALLBACK), "centre_box"


def best_threshold(dist: np.ndarray, same: np.ndarray) -> float:
    candidates = np.unique(np.round(dist, 4))
    accs = [((dist < t) == same).mean() for t in candidates]
    return float(candidates[int(np.argmax(accs))])


def verification(
    engine: Any, lfw: Path, log: Log, limit: int | None = None, second: Any | None = None
) -> dict[str, Any]:
    pairs = lfw_pairs(lfw)[:limit] if limit else lfw_pairs(lfw)
    cache: dict[Path, tuple[np.ndarray, str]] = {}
    t0 = time.perf_counter()
    for _, a, b, _ in pairs:
        for p in (a, b):
            if p not in cache:
                cache[p] = lfw_descriptor(engine, p, second)
                if len(cache) % 200 == 0:
                    log(f"faces: LFW {len(cache)} images described")
    seconds = time.perf_counter() - t0
    folds = np.array([f for f, *_ in pairs])
    same = np.array([s for *_, s in pairs])
    vec = {p: v for p, (v, _) in cache.items()}
    unit = {p: v / max(1e-9, float(np.linalg.norm(v))) for p, v in vec.items()}
    per_fold = cross_validated(_distances(pairs, vec), same, folds)
    unit_folds = cross_validated(_distances(pairs, unit), same, folds)
    return {
        "pairs": len(pairs), "images": len(cache),
        "found_by": {k: sum(v == k for _, v in cache.values()) for k in ("hog", "mmod", "centre_box")},
        "accuracy": float(np.mean([f["accuracy"] for f in per_fold])), "folds": per_fold,
        "accuracy_unit_norm": float(np.mean([f["accuracy"] for f in unit_folds])),
        "folds_unit_norm": unit_folds, "seconds_per_image": seconds / max(1, len(cache)),
    }  # fmt: skip


def _distances(pairs: Sequence[tuple[int, Path, Path, bool]], vec: dict[Path, Any]) -> np.ndarray:
    return np.array([float(np.linalg.norm(vec[a] - vec[b])) for _, a, b, _ in pairs])


def cross_validated(dist: np.ndarray, same: np.ndarray, folds: np.ndarray) -> list[dict[str, Any]]:
    """Per fold: the threshold best on the other folds, and its accuracy on this one."""
    out = []
    for k in sorted(set(folds.tolist())):
        train, test = folds != k, folds == k
        t = best_threshold(dist[train], same[train]) if train.any() else best_threshold(dist, same)
        acc = float(((dist[test] < t) == same[test]).mean())
        out.append({"fold": k + 1, "threshold": t, "accuracy": acc})
    return out


# ----------------------------------------------------------------------------- detection
def boxed_faces(folder: Path) -> dict[str, list[tuple[int, int, int, int]]]:
    out: dict[str, list[tuple[int, int, int, int]]] = {}
    for xml in ("training.xml", "testing.xml"):
        for image in ET.parse(folder / xml).getroot().iter("image"):
            boxes = [
                (int(b.get("left", 0)), int(b.get("top", 0)),
                 int(b.get("left", 0)) + int(b.get("width", 0)), int(b.get("top", 0)) + int(b.get("height", 0)))
                for b in image.iter("box") if b.get("ignore") != "1"
            ]  # fmt: skip
            out[str(image.get("file"))] = boxes
    return out


def iou(a: Sequence[float], b: Sequence[float]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def match(
    truth: Sequence[Sequence[float]], found: Sequence[Sequence[float]], min_iou: float = 0.3
) -> int:
    pairs = sorted(
        ((iou(t, f), i, j) for i, t in enumerate(truth) for j, f in enumerate(found)), reverse=True
    )
    used_t: set[int] = set()
    used_f: set[int] = set()
    for score, i, j in pairs:
        if score >= min_iou and i not in used_t and j not in used_f:
            used_t.add(i)
            used_f.add(j)
    return len(used_t)


def detect_in_photo(
    engine: Any, path: Path, det_side: int
) -> tuple[list[tuple[float, ...]], float]:
    """The pass's own decode (`load_for_ocr` at det_side) + detection; boxes in file pixels."""
    from edge_app.enrich.ocr_pass import load_for_ocr

    t0 = time.perf_counter()
    rgb = load_for_ocr(path, det_side, 200_000_000)
    faces = engine.analyse(rgb)
    seconds = time.perf_counter() - t0
    with Image.open(path) as im:
        sx, sy = im.width / rgb.shape[1], im.height / rgb.shape[0]
    return [(f.box[0] * sx, f.box[1] * sy, f.box[2] * sx, f.box[3] * sy) for f in faces], seconds


def detection(
    make_engine: Callable[[int], Any], folder: Path, sides: Sequence[int]
) -> list[dict[str, Any]]:
    truth = boxed_faces(folder)
    rows = []
    for side in sides:
        engine = make_engine(side)
        hits = found_n = 0
        seconds = 0.0
        for name, boxes in truth.items():
            found, s = detect_in_photo(engine, folder / name, side)
            hits += match(list(boxes), found)
            found_n += len(found)
            seconds += s
        total = sum(len(b) for b in truth.values())
        rows.append({
            "det_side": side, "faces": total, "found": found_n, "matched": hits,
            "recall": hits / total, "precision": hits / max(1, found_n),
            "seconds_per_photo": seconds / len(truth),
        })  # fmt: skip
    return rows


# ----------------------------------------------------------------------------- clustering
class ReplayFinder:
    """Replays the real engine's answers per photo (named so): thresholds sweep cheaply."""

    def __init__(self, answers: dict[str, list[Any]]) -> None:
        self.answers = answers
        self.current = ""

    def analyse(self, rgb: np.ndarray) -> list[Any]:
        return self.answers[self.current]

    def describe(self) -> dict[str, str]:
        return {"runtime": "replay"}


def pairwise_scores(truth: list[str], predicted: list[int | None]) -> dict[str, Any]:
    tp = fp = fn = 0
    for (ta, pa), (tb, pb) in itertools.combinations(zip(truth, predicted, strict=True), 2):
        same_pred = pa is not None and pa == pb
        same_truth = ta == tb
        tp += same_pred and same_truth
        fp += same_pred and not same_truth
        fn += same_truth and not same_pred
    precision, recall = tp / max(1, tp + fp), tp / max(1, tp + fn)
    members: dict[int, set[str]] = {}
    for t, p in zip(truth, predicted, strict=True):
        if p is not None:
            members.setdefault(p, set()).add(t)
    return {
        "pairwise_precision": precision, "pairwise_recall": recall,
        "pairwise_f1": 2 * precision * recall / max(1e-9, precision + recall),
        "people": len(members), "merged_people": sum(len(m) > 1 for m in members.values()),
        "unassigned_photos": sum(p is None for p in predicted),
    }  # fmt: skip


def clustering(
    answers: dict[str, list[Any]], labels: dict[str, str], threshold: float, imports: int = 4
) -> dict[str, Any]:
    """The real FacePass + grouping on a temporary library, photos arriving in batches."""
    from edge_app.library.records import PhotoMeta
    from edge_app.library.store import Library
    from edge_app.settings import Settings

    finder = ReplayFinder(answers)
    names = sorted(labels)
    with tempfile.TemporaryDirectory() as tmp:
        settings = replace(Settings(data_dir=Path(tmp)), faces_threshold=threshold)
        with Library(settings.db_path) as lib:
            lib.set_faces_enabled(True)
            batch = -(-len(names) // imports)
            for start in range(0, len(names), batch):
                for name in names[start : start + batch]:
                    lib.record_photo(
                        PhotoMeta(rel_path=name, sha256=name, size=1, mtime_ns=1),
                        np.ones(4, np.float32),
                        "b",
                    )
                _replay_pass(settings, lib, finder).run()
            predicted = [_largest_face_person(lib, name) for name in names]
    return {"threshold": threshold, **pairwise_scores([labels[n] for n in names], predicted)}


def _replay_pass(settings: Any, library: Any, finder: ReplayFinder) -> Any:
    """The real `FacePass`, whose decode step tells the replay finder which photo it is."""
    from edge_app.enrich.face_pass import FacePass

    class ReplayPass(FacePass):
        def load(self, item: Any) -> np.ndarray:
            finder.current = item.rel_path
            return np.zeros((10, 10, 3), np.uint8)

    return ReplayPass(settings, library, finder)


def _largest_face_person(lib: Any, rel_path: str) -> int | None:
    photo = lib.find_by_rel_path(rel_path)
    faces = lib.faces_of_photo(photo.id)
    if not faces:
        return None
    best = max(faces, key=lambda f: (f.box[2] - f.box[0]) * (f.box[3] - f.box[1]))
    return best.person_id


def deepface_answers(
    engine: Any, folder: Path, det_side: int
) -> tuple[dict[str, list[Any]], dict[str, str]]:
    from edge_app.enrich.ocr_pass import load_for_ocr

    labels: dict[str, str] = {}
    answers: dict[str, list[Any]] = {}
    with (folder / "labels.csv").open(newline="") as fh:
        for row in csv.DictReader(fh):
            labels[row["file"]] = row["identity"]
            answers[row["file"]] = engine.analyse(
                load_for_ocr(folder / row["file"], det_side, 200_000_000)
            )
    return answers, labels


def johns_sweep(engine: Any, folder: Path) -> list[dict[str, Any]]:
    """Threshold choice on other data: chips of 5 people, through the same grouping code."""
    from engines.faces.engine import FoundFace

    chips = sorted(folder.glob("*/*.jpg"))
    vecs = engine.embed_chips([_rgb(p) for p in chips])
    answers = {
        p.name: [FoundFace((0, 0, 150, 150), 2.0, v, np.zeros((150, 150, 3), np.uint8))]
        for p, v in zip(chips, vecs, strict=True)
    }
    labels = {p.name: p.parent.name for p in chips}
    return [clustering(answers, labels, t) for t in SWEEP]


# ----------------------------------------------------------------------------- cost
def cost(engine: Any, photos: Sequence[Path], det_side: int) -> dict[str, Any]:
    """Per photo without faces (decode + detection) and per face (landmarks..descriptor).

    Wall seconds, and CPU seconds of this process (dlib runs on one thread here), which a
    machine shared with other jobs inflates far less than wall time.
    """
    empty: list[float] = []
    empty_cpu: list[float] = []
    per_face: list[float] = []
    face_cpu: list[float] = []
    for path in photos:
        c0 = time.process_time()
        found, seconds = detect_in_photo(engine, path, det_side)
        cpu = time.process_time() - c0
        if not found:
            empty.append(seconds)
            empty_cpu.append(cpu)
        else:
            per_face.append(engine.last_seconds[1] / len(found))
            face_cpu.append(engine.last_cpu_describe / len(found))
    return {
        "photos": len(photos), "photos_without_faces": len(empty),
        "seconds_per_photo_without_faces": float(np.mean(empty)) if empty else None,
        "p90_seconds_without_faces": float(np.percentile(empty, 90)) if empty else None,
        "faces_timed_in": len(per_face),
        "seconds_per_face": float(np.mean(per_face)) if per_face else None,
        "cpu_seconds_per_photo_without_faces": float(np.mean(empty_cpu)) if empty_cpu else None,
        "cpu_seconds_per_face": float(np.mean(face_cpu)) if face_cpu else None,
    }  # fmt: skip
