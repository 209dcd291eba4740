"""The demo's committed toy-shapes bundle: its provenance holds, and it still matches the
model rebuilt from the committed checkpoint by the real builder, within the parity gates."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from build_engines import calibration, demo_bundle, validate
from build_engines.api import verify_bundle
from build_engines.models import load_model
from edge_app.demo import PREBUILT_BUNDLE
from engines.base import RunnerOptions
from engines.bundle import load_bundle, sha256_file
from engines.manifest import MANIFEST_NAME, TOWERS, Artifact
from engines.registry import create_runner

REGENERATE = f"regenerate it: {demo_bundle.COMMAND}"


def _provenance() -> dict[str, object]:
    text = (PREBUILT_BUNDLE / demo_bundle.PROVENANCE_NAME).read_text(encoding="utf-8")
    return dict(json.loads(text))


def test_the_demo_ships_the_bundle_the_builder_module_writes() -> None:
    assert demo_bundle.DEFAULT_OUT == PREBUILT_BUNDLE


def test_committed_bundle_matches_its_provenance_and_checksums() -> None:
    prov = _provenance()
    assert prov["checkpoint"] == demo_bundle.checkpoint_hashes(), (
        f"checkpoint changed: {REGENERATE}"
    )
    assert prov["manifest_sha256"] == sha256_file(PREBUILT_BUNDLE / MANIFEST_NAME), REGENERATE
    bundle = load_bundle(PREBUILT_BUNDLE, verify=True)  # every file's size + sha256
    assert bundle.manifest.bundle_id == prov["bundle_id"]
    assert bundle.manifest.model.id == "toy-shapes"
    assert "synthetic" in bundle.manifest.model.note
    keys = {(a.tower, a.backend, a.precision) for a in bundle.manifest.artifacts}
    assert keys == {(t, "openvino", "int8w") for t in TOWERS}
    size = sum(p.stat().st_size for p in PREBUILT_BUNDLE.rglob("*") if p.is_file())
    assert size < 6_000_000, f"the committed bundle grew to {size / 1e6:.1f} MB"


def test_committed_bundle_passes_verify_against_the_checkpoint() -> None:
    """`edge-build verify`: PyTorch fp32 from the committed checkpoint vs every artifact."""
    reports = verify_bundle(PREBUILT_BUNDLE)
    assert len(reports) == 2 and all(r.measured for r in reports), [r.reason for r in reports]
    failed = [(r.key, r.parity, r.agreement) for r in reports if not r.passed]
    assert not failed, f"{failed}: {REGENERATE}"


def test_committed_bundle_matches_a_fresh_export(toy_bundle: Path) -> None:
    """Against `edge-build export --model toy-shapes` of this checkout (the session's fp32
    bundle): same model spec, and embeddings within the int8w gate tower by tower."""
    committed = load_bundle(PREBUILT_BUNDLE).manifest
    rebuilt = load_bundle(toy_bundle).manifest
    assert (committed.model, committed.image, committed.text) == (
        rebuilt.model,
        rebuilt.image,
        rebuilt.text,
    ), REGENERATE
    reference = calibration.reference_set(load_model("toy-shapes"), None)
    gate = validate.thresholds()["int8w"]
    for tower in TOWERS:
        inputs = reference.inputs(tower)
        fresh = _pick(rebuilt.artifacts_for(tower), "openvino", "fp32")
        expected = _run(toy_bundle, fresh, inputs)
        ours = _pick(committed.artifacts_for(tower), "openvino", "int8w")
        parity = validate.measure(PREBUILT_BUNDLE, ours, inputs, expected, "CPU")
        assert parity.min_cosine >= gate, f"{tower}: {parity} < {gate}: {REGENERATE}"


def _pick(artifacts: list[Artifact], backend: str, precision: str) -> Artifact:
    (found,) = [a for a in artifacts if (a.backend, a.precision) == (backend, precision)]
    return found


def _run(root: Path, artifact: Artifact, inputs: np.ndarray) -> np.ndarray:
    runner = create_runner(root, artifact, RunnerOptions(device="CPU"))
    try:
        return runner.run(inputs)
    finally:
        runner.close()
