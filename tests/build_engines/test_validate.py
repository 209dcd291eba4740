"""Parity maths and the per-precision gates (pure numpy, no model)."""

from __future__ import annotations

import numpy as np
import pytest

from build_engines.errors import ParityError
from build_engines.validate import DEFAULT_MIN_COSINE, cosine_parity, gate, thresholds
from engines.manifest import Artifact, Parity


def _artifact(precision: str) -> Artifact:
    return Artifact("text", "openvino", precision, files=(), inputs=(), outputs=())


def test_identical_embeddings_have_parity_one() -> None:
    x = np.random.default_rng(0).normal(size=(5, 8)).astype(np.float32)
    p = cosine_parity(x, x * 3.0)  # scale does not matter: we compare directions
    assert p.samples == 5 and p.min_cosine == pytest.approx(1.0, abs=1e-6)


def test_orthogonal_and_opposite_rows() -> None:
    ref = np.eye(2, dtype=np.float32)
    got = np.array([[0.0, 1.0], [0.0, -1.0]], dtype=np.float32)
    p = cosine_parity(ref, got)
    assert p.min_cosine == pytest.approx(-1.0) and p.mean_cosine == pytest.approx(-0.5)


def test_shape_mismatch_and_nan_raise() -> None:
    with pytest.raises(ParityError, match="shape"):
        cosine_parity(np.ones((2, 4)), np.ones((3, 4)))
    with pytest.raises(ParityError, match="NaN"):
        cosine_parity(np.ones((1, 2)), np.array([[np.nan, 1.0]]))


def test_default_gates_are_the_spec() -> None:
    assert DEFAULT_MIN_COSINE["fp32"] == 0.999
    assert DEFAULT_MIN_COSINE["fp16"] == DEFAULT_MIN_COSINE["int8"] == 0.99


def test_gate_applies_the_precision_threshold() -> None:
    limits = thresholds()
    ok = gate(_artifact("int8"), Parity(0.9905, 0.995, 10), limits)
    assert ok.passed and ok.threshold == 0.99
    with pytest.raises(ParityError, match="0.9985"):
        gate(_artifact("fp32"), Parity(0.9985, 0.9995, 10), limits)


def test_gate_override_is_per_precision() -> None:
    limits = thresholds({"int8": 0.95})
    assert gate(_artifact("int8"), Parity(0.96, 0.99, 4), limits).passed
    with pytest.raises(ParityError):
        gate(_artifact("fp16"), Parity(0.96, 0.99, 4), limits)


@pytest.mark.parametrize("bad", [{"int4": 0.9}, {"int8": 0.0}, {"int8": 1.5}])
def test_bad_gate_overrides_are_rejected(bad: dict[str, float]) -> None:
    with pytest.raises(ParityError):
        thresholds(bad)
