"""Retrieval agreement: does an artifact return the same top-k photos as PyTorch fp32?

Cosine parity (`validate`) can look fine while near-ties reorder search results; the
runtime's default precision is gated on this figure instead. The database is the
agreement photos, queries are captions (text) and the first photos (image). For an
image artifact the database and the image queries come from the artifact, the text
queries from PyTorch; for a text artifact only its text queries change. Artifacts run
through the runtime's own runners, as the appliance will run them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from build_engines.calibration import CalibrationSet
from engines.base import RunnerOptions
from engines.cpu_features import CpuFeatures
from engines.manifest import Agreement, Artifact
from engines.registry import create_runner

log = logging.getLogger(__name__)

K = 10
IMAGE_QUERIES = 32
TEXT_QUERIES = 64


@dataclass(frozen=True)
class AgreementSet:
    """Inputs and their PyTorch fp32 embeddings (computed once per build)."""

    inputs: CalibrationSet
    image: np.ndarray  # (N, D) reference image embeddings = the database
    text: np.ndarray  # (M, D) reference text embeddings = the text queries

    @property
    def k(self) -> int:
        return min(K, len(self.image) - 1)


def top_k_overlap(
    db_ref: np.ndarray, q_ref: np.ndarray, db: np.ndarray, q: np.ndarray, k: int
) -> float:
    """Mean |top-k(ref) ∩ top-k(got)| / k over the queries (exact inner-product search)."""
    ref = np.argsort(-(q_ref @ db_ref.T), axis=1, kind="stable")[:, :k]
    got = np.argsort(-(q.astype(np.float32) @ db.astype(np.float32).T), axis=1, kind="stable")[
        :, :k
    ]
    hits = [len(set(a.tolist()) & set(b.tolist())) for a, b in zip(ref, got, strict=True)]
    return float(np.mean(hits) / k)


def _run(root: Path, artifact: Artifact, x: np.ndarray, device: str, bf16: bool) -> np.ndarray:
    runner = create_runner(root, artifact, RunnerOptions(device=device, bf16=bf16))
    try:
        return runner.run(x)
    finally:
        runner.close()


def overlap(
    root: Path, artifact: Artifact, ref: AgreementSet, device: str, bf16: bool = False
) -> tuple[float, int]:
    """(mean top-k overlap, number of queries) of one artifact in one run mode."""
    text_q = ref.text[:TEXT_QUERIES]
    if artifact.tower == "text":
        got = _run(root, artifact, ref.inputs.tokens[:TEXT_QUERIES], device, bf16)
        return top_k_overlap(ref.image, text_q, ref.image, got, ref.k), len(text_q)
    db = _run(root, artifact, ref.inputs.pixels, device, bf16)
    n_img = min(IMAGE_QUERIES, len(db))
    queries_ref = np.concatenate([text_q, ref.image[:n_img]])
    queries_got = np.concatenate([text_q, db[:n_img]])
    return top_k_overlap(ref.image, queries_ref, db, queries_got, ref.k), len(queries_ref)


def _bf16_capable(artifact: Artifact, device: str) -> bool:
    """OpenVINO IR with float compute (fp32, int8w) has a bf16 run mode on CPU (the hint)."""
    return (
        artifact.backend == "openvino"
        and artifact.precision in ("fp32", "int8w")
        and device == "CPU"
    )


def measure(root: Path, artifact: Artifact, ref: AgreementSet, device: str) -> Agreement:
    """The artifact's agreement; OpenVINO fp32 also with the bf16 hint where BF16 is native."""
    value, queries = overlap(root, artifact, ref, device)
    bf16 = None
    if _bf16_capable(artifact, device) and CpuFeatures.detect().bf16_fast:
        bf16, _ = overlap(root, artifact, ref, device, bf16=True)
    log.info(
        "agreement %s: top-%d overlap %.4f (bf16 %s, %d queries, %d photos)",
        artifact.key,
        ref.k,
        value,
        "n/a" if bf16 is None else f"{bf16:.4f}",
        queries,
        len(ref.image),
    )
    return Agreement(
        overlap=value, k=ref.k, queries=queries, photos=len(ref.image), bf16_overlap=bf16
    )
