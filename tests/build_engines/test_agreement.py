"""Retrieval agreement: the maths, the figures the builder records, and verify's re-check."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from build_engines.agreement import top_k_overlap
from build_engines.api import verify_bundle
from build_engines.validate import ParityReport
from engines.manifest import Agreement, Manifest, Parity


def test_identical_search_agrees_fully_and_noise_lowers_it() -> None:
    rng = np.random.default_rng(0)
    db = rng.normal(size=(200, 16)).astype(np.float32)
    q = rng.normal(size=(20, 16)).astype(np.float32)
    assert top_k_overlap(db, q, db, q, 10) == 1.0
    noisy = db + rng.normal(scale=2.0, size=db.shape).astype(np.float32)
    assert top_k_overlap(db, q, noisy, q, 10) < 0.8


def test_disjoint_top_k_is_zero() -> None:
    db = np.eye(4, dtype=np.float32)
    q = np.array([[1.0, 0.9, 0.0, 0.0]], dtype=np.float32)
    flipped = np.array([[0.0, 0.0, 1.0, 0.9]], dtype=np.float32)
    assert top_k_overlap(db, q, db, flipped, 2) == 0.0


def test_builder_records_agreement_for_every_artifact(tiny_bundle: Path) -> None:
    manifest = Manifest.load(tiny_bundle)
    assert manifest.artifacts
    for art in manifest.artifacts:
        assert art.agreement is not None, art.key
        assert art.agreement.k == 10 and art.agreement.photos == 200
        assert art.agreement.overlap >= 0.99, art.key  # fp32 artifacts match PyTorch fp32
    assert "generated:shapes" in manifest.builder["agreement.inputs"]


def test_verify_remeasures_agreement(tiny_bundle: Path) -> None:
    reports = [r for r in verify_bundle(tiny_bundle) if r.measured]
    assert reports
    for r in reports:
        assert r.agreement is not None and r.recorded_agreement is not None
        assert r.agreement.overlap == pytest.approx(r.recorded_agreement.overlap, abs=0.02)
        assert r.passed


def _report(recorded: float, now: float) -> ParityReport:
    parity = Parity(min_cosine=0.999, mean_cosine=0.999, samples=4)
    return ParityReport(
        "image/openvino/int8",
        parity,
        0.99,
        agreement=Agreement(now, 10, 96, 200),
        recorded_agreement=Agreement(recorded, 10, 96, 200),
    )


def test_verify_fails_an_artifact_that_no_longer_qualifies_as_default() -> None:
    assert not _report(recorded=0.97, now=0.90).passed
    assert _report(recorded=0.97, now=0.96).passed
    assert _report(recorded=0.90, now=0.88).passed  # was never a default candidate
