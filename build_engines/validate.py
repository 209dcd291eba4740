"""Parity: how close each artifact's embeddings are to the PyTorch fp32 reference.

Artifacts are run through the runtime's own runners (`engines.registry`), so the number
in the manifest is what the appliance will actually get, not a builder-side imitation.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from build_engines.errors import ParityError
from engines.base import RunnerOptions
from engines.fast_default import MIN_AGREEMENT
from engines.manifest import Agreement, Artifact, Parity
from engines.registry import create_runner, runner_class

log = logging.getLogger(__name__)

DEFAULT_MIN_COSINE: dict[str, float] = {
    "fp32": 0.999,
    "fp16": 0.99,
    "bf16": 0.99,
    "int8": 0.99,
    "int8w": 0.995,  # float compute on int8 weights (dynamic activation quantisation)
}


@dataclass(frozen=True)
class ParityReport:
    """One artifact's verdict; `parity` is None when it cannot run here (`reason` says why)."""

    key: str
    parity: Parity | None
    threshold: float
    reason: str = ""
    agreement: Agreement | None = None  # re-measured retrieval agreement (verify)
    recorded_agreement: Agreement | None = None  # what the manifest says

    @property
    def measured(self) -> bool:
        return self.parity is not None

    @property
    def agreement_ok(self) -> bool:
        """False when the manifest made this artifact a default candidate and it no longer is."""
        rec, got = self.recorded_agreement, self.agreement
        if rec is None or got is None:
            return True
        return not (rec.overlap >= MIN_AGREEMENT > got.overlap)

    @property
    def passed(self) -> bool:
        ok = self.parity is not None and self.parity.min_cosine >= self.threshold
        return ok and self.agreement_ok


def thresholds(overrides: Mapping[str, float] | None = None) -> dict[str, float]:
    """The default gates with per-precision overrides (e.g. {"int8": 0.95})."""
    merged = dict(DEFAULT_MIN_COSINE)
    for precision, value in (overrides or {}).items():
        if precision not in merged:
            raise ParityError(
                f"parity gate for unknown precision {precision!r}: use {sorted(merged)}"
            )
        if not 0.0 < value <= 1.0:
            raise ParityError(f"parity gate {precision}={value}: must be a cosine in (0, 1]")
        merged[precision] = value
    return merged


def cosine_parity(reference: np.ndarray, got: np.ndarray) -> Parity:
    """Row-wise cosine of two (N, D) embedding sets (re-normalised: we compare directions)."""
    if reference.shape != got.shape:
        raise ParityError(f"artifact output shape {got.shape} != reference {reference.shape}")
    ref = reference / np.linalg.norm(reference, axis=1, keepdims=True).clip(1e-12)
    out = got.astype(np.float32) / np.linalg.norm(got, axis=1, keepdims=True).clip(1e-12)
    cos = np.asarray(np.sum(ref * out, axis=1, dtype=np.float64))
    if not np.all(np.isfinite(cos)):
        raise ParityError("artifact produced NaN/inf embeddings")
    return Parity(
        min_cosine=float(cos.min()), mean_cosine=float(cos.mean()), samples=int(cos.shape[0])
    )


def cannot_run_reason(artifact: Artifact) -> str | None:
    """Why this machine cannot run `artifact` (missing runtime), None when it can."""
    return runner_class(artifact.backend).available()


def measure(
    root: Path, artifact: Artifact, inputs: np.ndarray, reference: np.ndarray, device: str
) -> Parity:
    """Run `artifact` from `root` on `inputs` with the runtime runner; compare to `reference`."""
    runner = create_runner(root, artifact, RunnerOptions(device=device))
    try:
        got = runner.run(inputs)
    finally:
        runner.close()
    return cosine_parity(reference, got)


def gate(artifact: Artifact, parity: Parity, limits: Mapping[str, float]) -> ParityReport:
    """The report of a measured artifact; ParityError when it misses its precision's gate."""
    report = ParityReport(artifact.key, parity, limits[artifact.precision])
    log.info(
        "parity %s: min %.5f mean %.5f (gate %.3f, %d samples)",
        artifact.key,
        parity.min_cosine,
        parity.mean_cosine,
        report.threshold,
        parity.samples,
    )
    if not report.passed:
        raise ParityError(
            f"{artifact.key}: min cosine {parity.min_cosine:.5f} < {report.threshold} vs PyTorch fp32 "
            f"(mean {parity.mean_cosine:.5f}): drop this precision, calibrate on more representative "
            f"photos (--calib), or lower the gate explicitly (--min-parity {artifact.precision}=X)"
        )
    return report
