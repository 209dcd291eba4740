"""Re-tagging the library from stored embeddings: no photo is decoded or re-encoded.

Why a job on the writer thread: tags are written through the library's one writer, so
the daemon runs `Tagger.retag_stale` on its job queue right after each indexing run (and
after a label set changes); two writers never race. Each set is tagged in two streamed
passes over the stored embeddings (a calibration sample, then assignment in chunks), so
memory stays bounded at 100k photos x 1,000 labels, and its tags are replaced in ONE
transaction that first checks the set was neither edited nor deleted meanwhile.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from edge_app.errors import LabelConflictError, LabelError, NotFoundError
from edge_app.library.store import Library
from edge_app.library.tags import Label, LabelSet
from edge_app.settings import Settings
from edge_app.tags import scoring
from engines.batching import bulk_priority

log = logging.getLogger(__name__)

DEFAULT_TEMPLATES = ("a photo of a {}.", "a photo of the {}.", "a close-up photo of a {}.", "{}")
_TEXT_BATCH = 256
ENSEMBLE = " || "  # one prompt "a || b" is ONE row: the mean of a's and b's embeddings

ChunkHook = Callable[[int, int], None]  # (photos done, photos total), after each chunk


class TextEncoder(Protocol):
    """What tagging needs from `engines.ClipEncoder`."""

    @property
    def bundle_id(self) -> str: ...
    def encode_text(self, texts: Sequence[str]) -> np.ndarray: ...


@dataclass(frozen=True)
class TagRun:
    """Outcome of tagging one set: ``state`` is done, stopped or discarded (with why)."""

    set_id: int
    set_name: str
    state: str
    photos: int = 0
    labels: int = 0
    tags: int = 0
    seconds: float = 0.0
    message: str = ""


def is_fresh(label_set: LabelSet, generation: int, bundle_id: str | None) -> bool:
    """Tags of `label_set` reflect its definition, the photos and the bundle of now."""
    return (
        label_set.is_current
        and label_set.tagged_generation == generation
        and label_set.tagged_bundle == bundle_id
    )


@dataclass(frozen=True)
class _Scoring:
    """What pass 2 needs: label rows and their per-label calibration and thresholds."""

    stacked: np.ndarray
    starts: np.ndarray
    center: np.ndarray
    scale: np.ndarray
    thresholds: np.ndarray


def expand_prompts(label: Label) -> list[str]:
    """The label's prompts ("{}" is replaced by the name), or default templates."""
    prompts = label.prompts or DEFAULT_TEMPLATES
    return [p.replace("{}", label.name) for p in prompts]


def rows_for(
    prompts: Sequence[str], encode: Callable[[Sequence[str]], np.ndarray],
    examples: np.ndarray | None = None, pooling: str = "mean",
) -> np.ndarray:  # fmt: skip
    """A label's (K, D) rows: each prompt ("a || b" = one averaged ensemble) encoded once."""
    items = [[p.strip() for p in item.split(ENSEMBLE.strip()) if p.strip()] for item in prompts]
    items = [item for item in items if item]
    if not items:
        raise LabelError("a label needs at least one non-empty prompt")
    flat = np.asarray(encode([p for item in items for p in item]), np.float32)
    bounds = np.cumsum([0, *[len(item) for item in items]])
    text = np.stack([flat[a:b].mean(axis=0) for a, b in zip(bounds[:-1], bounds[1:], strict=True)])
    return scoring.label_rows(text, examples, pooling)


class Tagger:
    """Computes label vectors and (re)writes photo tags for label sets."""

    def __init__(self, settings: Settings, library: Library, encoder: TextEncoder) -> None:
        self.settings = settings
        self.library = library
        self.encoder = encoder
        self.last_runs: list[TagRun] = []

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        with bulk_priority():  # label prompts queue behind people's searches
            parts = [
                np.asarray(self.encoder.encode_text(texts[i : i + _TEXT_BATCH]), np.float32)
                for i in range(0, len(texts), _TEXT_BATCH)
            ]
        return np.concatenate(parts) if parts else np.zeros((0, 0), np.float32)

    def label_rows(self, label_set: LabelSet) -> tuple[np.ndarray, np.ndarray]:
        """(stacked rows, label start columns), reusing vectors cached for this bundle."""
        bundle = self.encoder.bundle_id
        fresh: list[tuple[int, np.ndarray]] = []
        out: list[np.ndarray] = []
        for label in label_set.labels:
            rows = label.vector if label.vector_bundle == bundle else None
            if rows is None:
                rows = self._compute_rows(label)
                fresh.append((label.id, rows))
            out.append(rows)
        if fresh:
            self.library.save_label_vectors(label_set.id, label_set.version, fresh, bundle)
        return np.concatenate(out).astype(np.float32), scoring.offsets(out)

    def _compute_rows(self, label: Label) -> np.ndarray:
        examples = None
        if label.examples:
            _ids, examples = self.library.get_embeddings(list(label.examples))
        return rows_for(expand_prompts(label), self.encode_texts, examples, label.pooling)

    def score_matrix(self, set_id: int) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """(photo ids, calibrated scores (N, L), label names): for evaluation and ranking."""
        label_set = self._nonempty(set_id)
        stacked, starts = self.label_rows(label_set)
        center, scale, _total = self._calibrate(stacked, starts)
        ids, z = [], []
        for chunk_ids, emb in self.library.iter_embeddings(self.encoder.bundle_id):
            ids.append(chunk_ids)
            z.append(scoring.calibrated(scoring.pooled_scores(emb, stacked, starts), center, scale))
        names = [lab.name for lab in label_set.labels]
        if not ids:
            return np.zeros(0, np.int64), np.zeros((0, len(names)), np.float32), names
        return np.concatenate(ids), np.concatenate(z), names

    def _nonempty(self, set_id: int) -> LabelSet:
        label_set = self.library.get_label_set(set_id)
        if not label_set.labels:
            raise LabelError(f"label set {label_set.name!r} has no labels: add some first")
        return label_set

    def retag(
        self, set_id: int, stop_event: threading.Event | None = None,
        on_chunk: ChunkHook | None = None,
    ) -> TagRun:  # fmt: skip
        """Tag every indexed photo with the set's labels; raises `LabelConflictError` if
        the set is edited or deleted meanwhile (its old tags stay; nothing half-written)."""
        started = time.perf_counter()
        label_set = self._nonempty(set_id)
        generation = self.library.index_generation()
        stacked, starts = self.label_rows(label_set)
        thresholds = np.asarray(
            [lab.threshold if lab.threshold is not None else self.settings.tag_threshold
             for lab in label_set.labels], np.float32,
        )  # fmt: skip
        center, scale, total = self._calibrate(stacked, starts)
        scored = _Scoring(stacked, starts, center, scale, thresholds)
        tags, done = self._assign(scored, total, stop_event, on_chunk)
        if stop_event is not None and stop_event.is_set():
            return TagRun(set_id, label_set.name, "stopped", done, len(starts))
        label_ids = [lab.id for lab in label_set.labels]
        calibration = [
            (lid, float(c), float(s)) for lid, c, s in zip(label_ids, center, scale, strict=True)
        ]
        rows = [(pid, label_ids[col], z, cos) for pid, col, z, cos in tags]
        written = self.library.save_tags(
            set_id, label_set.version, calibration, rows, generation, self.encoder.bundle_id
        )
        seconds = time.perf_counter() - started
        log.info(
            "event=tagged set=%s photos=%d tags=%d s=%.2f", label_set.name, done, written, seconds
        )
        return TagRun(set_id, label_set.name, "done", done, len(starts), written, seconds)

    def _calibrate(
        self, stacked: np.ndarray, starts: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, int]:
        """Pass 1: per-label statistics over an even sample of the library."""
        bundle = self.encoder.bundle_id
        total = self.library.count_embeddings(bundle)
        wanted = scoring.sample_rows(total)
        picked: list[np.ndarray] = []
        seen = 0
        for _ids, emb in self.library.iter_embeddings(bundle):
            local = wanted[(wanted >= seen) & (wanted < seen + len(emb))] - seen
            if len(local):
                picked.append(scoring.pooled_scores(emb[local], stacked, starts))
            seen += len(emb)
        if not picked:
            zeros = np.zeros(len(starts), np.float32)
            return zeros, np.full(len(starts), scoring.MIN_SCALE, np.float32), 0
        center, scale = scoring.calibrate(np.concatenate(picked))
        return center, scale, total

    def _assign(
        self, scored: _Scoring, total: int, stop_event: threading.Event | None,
        on_chunk: ChunkHook | None,
    ) -> tuple[list[tuple[int, int, float, float]], int]:  # fmt: skip
        """Pass 2: score chunk by chunk; keep (photo, label column, z, cosine) above threshold."""
        out: list[tuple[int, int, float, float]] = []
        done = 0
        for ids, emb in self.library.iter_embeddings(self.encoder.bundle_id):
            if stop_event is not None and stop_event.is_set():
                break
            cos = scoring.pooled_scores(emb, scored.stacked, scored.starts)
            z = scoring.calibrated(cos, scored.center, scored.scale)
            rows, cols = scoring.assign(z, scored.thresholds)
            out.extend(
                (int(ids[r]), int(c), float(z[r, c]), float(cos[r, c]))
                for r, c in zip(rows, cols, strict=True)
            )
            done += len(ids)
            if on_chunk is not None:
                on_chunk(done, total)
        return out, done

    def retag_stale(self, stop_event: threading.Event | None = None) -> list[TagRun]:
        """Tag every set whose definition, photos or bundle changed since it was tagged.

        A set deleted or edited while it is tagged is reported (state ``discarded``) and
        the others still run; an edited set is picked up by the next run.
        """
        runs: list[TagRun] = []
        generation = self.library.index_generation()
        for summary in self.library.list_label_sets():
            if stop_event is not None and stop_event.is_set():
                break
            if summary.label_count == 0 or self._is_fresh(summary, generation):
                continue
            runs.append(self._run_one(summary, stop_event))
        self.last_runs = runs
        return runs

    def _is_fresh(self, label_set: LabelSet, generation: int) -> bool:
        return is_fresh(label_set, generation, self.encoder.bundle_id)

    def _run_one(self, summary: LabelSet, stop_event: threading.Event | None) -> TagRun:
        try:
            return self.retag(summary.id, stop_event)
        except (LabelConflictError, LabelError, NotFoundError) as exc:
            log.warning("event=tagging_discarded set=%s reason=%s", summary.name, exc)
            return TagRun(summary.id, summary.name, "discarded", message=str(exc))
