"""The maths of tagging: label vectors, calibration and multi-label assignment (numpy).

Why calibrate: raw CLIP cosines are not comparable across labels (one prompt sits closer
to every image than another), so one global cosine threshold tags everything with some
labels and nothing with others. Each label's cosines are therefore standardised against
their own distribution over the library, with robust statistics:
``z = (cos - median) / (1.4826 * MAD)``. For a label most photos do not show, median and
MAD describe the "not this" mass, so ``z`` says how far a photo stands out from photos
without the label, and one threshold (``Settings.tag_threshold``) means the same for
every label; a label may override it. (Subtracting a background-prompt score per photo
was measured and made ranking worse on the toy model: docs/TAGS.md.)

Label vectors: "mean" pooling averages the prompt embeddings into one vector (the CLIP
prompt ensemble); "any" pooling keeps one row per prompt and scores a photo by its best
row, for labels that are a union ("dog" = any of 118 breeds). Few-shot: each row becomes
``unit((1 - w) * text + w * mean(examples))`` with ``w = n / (n + FEW_SHOT_PRIOR)``
capped at MAX_EXAMPLE_WEIGHT (1 example: 0.5, 3: 0.75, 4 or more: 0.8).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

FEW_SHOT_PRIOR = 1.0
MAX_EXAMPLE_WEIGHT = 0.8
MIN_SCALE = 0.005  # floor of the robust spread (identical cosines would divide by 0)
MAD_TO_SIGMA = 1.4826
CALIBRATION_SAMPLE = 20_000  # photos used for the per-label statistics


def unit_rows(mat: np.ndarray) -> np.ndarray:
    """L2-normalise rows (float32); zero rows stay zero."""
    m = np.atleast_2d(np.asarray(mat, dtype=np.float32))
    norms = np.linalg.norm(m, axis=1, keepdims=True)
    return np.divide(m, norms, out=np.zeros_like(m), where=norms > 0)


def example_weight(n_examples: int) -> float:
    """Weight of the examples' mean embedding in a label vector (0 without examples)."""
    return min(MAX_EXAMPLE_WEIGHT, n_examples / (n_examples + FEW_SHOT_PRIOR))


def label_rows(
    prompt_vecs: np.ndarray, example_vecs: np.ndarray | None = None, pooling: str = "mean"
) -> np.ndarray:
    """(K, D) rows of one label: K = 1 for "mean" pooling, one per prompt for "any"."""
    prompts = unit_rows(prompt_vecs)
    text = unit_rows(prompts.mean(axis=0)) if pooling == "mean" else prompts
    if example_vecs is None or len(example_vecs) == 0:
        return text
    w = example_weight(len(example_vecs))
    examples = unit_rows(np.asarray(example_vecs, np.float32).mean(axis=0))
    return unit_rows((1.0 - w) * text + w * examples)


def offsets(rows: Sequence[np.ndarray]) -> np.ndarray:
    """Start column of each label in the stacked row matrix (for `pooled_scores`)."""
    sizes = np.asarray([len(r) for r in rows], dtype=np.int64)
    return np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)


def pooled_scores(embeddings: np.ndarray, stacked: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """(N, L) cosines: ONE matrix product, then the best row of each label."""
    cos = np.asarray(embeddings, np.float32) @ stacked.T
    if len(starts) == stacked.shape[0]:  # every label has one row: nothing to pool
        return cos
    return np.maximum.reduceat(cos, starts, axis=1)


def calibrate(sample: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-label (center, scale): median and floored 1.4826 * MAD of the cosines."""
    center = np.median(sample, axis=0)
    mad = np.median(np.abs(sample - center), axis=0)
    scale = np.maximum(MAD_TO_SIGMA * mad, MIN_SCALE)
    return center.astype(np.float32), scale.astype(np.float32)


def calibrated(cos: np.ndarray, center: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Calibrated scores z (N, L)."""
    return (cos - center) / scale


def assign(z: np.ndarray, thresholds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(rows, cols) of the (photo, label) pairs whose calibrated score reaches the threshold."""
    rows, cols = np.nonzero(z >= thresholds[None, :])
    return rows, cols


def sample_rows(n: int, limit: int = CALIBRATION_SAMPLE) -> np.ndarray:
    """Evenly spaced row indices (deterministic): the calibration sample."""
    if n <= limit:
        return np.arange(n)
    return np.linspace(0, n - 1, limit).round().astype(np.int64)
