"""`build_bundle` and `verify_bundle`: the builder's public entry points.

Build order: load model -> PyTorch reference embeddings -> ONNX per tower -> each
requested backend/precision -> parity through the runtime's runner (gated per
precision) -> tokenizer + manifest last.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path

import numpy as np

from build_engines import agreement as agreement_mod
from build_engines import calibration, convert_openvino, convert_tensorrt, validate
from build_engines.bundle_writer import file_entry, invalidate, relative, write_manifest
from build_engines.calibration import CalibrationSet
from build_engines.errors import BuildError
from build_engines.export_onnx import export_tower, tower_specs
from build_engines.models import load_model
from build_engines.models.base import LoadedClip
from build_engines.torch_backend import TorchEncoder
from build_engines.validate import ParityReport
from engines.errors import BackendUnavailableError, IncompatibleArtifactError
from engines.manifest import TOWERS, Artifact, BatchProfile, ModelInfo, TensorSpec

log = logging.getLogger(__name__)

TARGETS = ("onnx", "openvino", "tensorrt")
BUILD_PRECISIONS = ("fp32", "fp16", "int8", "int8w")
WORK_DIR = ".work"
DEFAULT_BATCH = BatchProfile()
RUN_DEVICE = {"onnxruntime": "CPU", "openvino": "CPU", "tensorrt": "GPU"}


@dataclass
class _Build:
    """State shared by the artifact steps of one build."""

    loaded: LoadedClip
    out: Path
    batch: BatchProfile
    limits: dict[str, float]
    calib_dir: Path | None
    reference: CalibrationSet
    expected: dict[str, np.ndarray]
    agreement: agreement_mod.AgreementSet
    onnx: dict[str, list[Path]] = field(default_factory=dict)  # .onnx first, then data
    notes: dict[str, str] = field(default_factory=dict)
    _int8: CalibrationSet | None = None

    def int8_calibration(self) -> CalibrationSet:
        """Loaded once, on first int8 artifact; its source goes into the manifest."""
        if self._int8 is None:
            self._int8 = calibration.int8_set(self.loaded, self.calib_dir)
            self.notes["calibration.int8"] = self._int8.source
        return self._int8


def build_bundle(
    model: str,
    out: Path,
    targets: Sequence[str] = ("onnx", "openvino"),
    precisions: Sequence[str] = ("fp32",),
    calib_dir: Path | None = None,
    batch: BatchProfile = DEFAULT_BATCH,
    min_parity: Mapping[str, float] | None = None,
) -> Path:
    """Build a bundle of `model` in `out`; raises a BuildError subclass on any failure."""
    _check_choices("target", targets, TARGETS)
    _check_choices("precision", precisions, BUILD_PRECISIONS)
    if "tensorrt" in targets:
        convert_tensorrt.require_tensorrt()  # fail before minutes of export, not after
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    invalidate(out)
    loaded = load_model(model)
    state = _prepare(loaded, out, batch, validate.thresholds(min_parity), calib_dir)
    if "int8" in precisions and set(targets) - {"onnx"}:
        state.int8_calibration()  # no --calib for a real model: fail before exporting
    work = out if "onnx" in targets else out / WORK_DIR
    for tower in TOWERS:
        path = work / f"{tower}_fp32.onnx"
        state.onnx[tower] = _timed(
            state, f"onnx.{tower}", partial(export_tower, loaded, tower, path)
        )
    artifacts = [a for target in targets for a in _target_artifacts(state, target, precisions)]
    shutil.rmtree(out / WORK_DIR, ignore_errors=True)
    extra = {**state.notes, **{f"parity_gate.{k}": str(v) for k, v in state.limits.items()}}
    manifest = write_manifest(out, loaded, artifacts, extra)
    log.info("bundle %s written to %s (%d artifacts)", manifest.bundle_id, out, len(artifacts))
    return out


def _prepare(
    loaded: LoadedClip,
    out: Path,
    batch: BatchProfile,
    limits: dict[str, float],
    calib_dir: Path | None,
) -> _Build:
    """Reference inputs and their PyTorch fp32 embeddings (computed once per build)."""
    reference = calibration.reference_set(loaded, calib_dir)
    encoder = TorchEncoder(loaded)
    expected = {t: encoder.encode(t, reference.inputs(t)) for t in TOWERS}
    agree = _agreement_set(loaded, encoder, calib_dir)
    state = _Build(loaded, out, batch, limits, calib_dir, reference, expected, agree)
    state.notes["parity.inputs"] = reference.source
    state.notes["agreement.inputs"] = agree.inputs.source
    return state


def _agreement_set(
    loaded: LoadedClip, encoder: TorchEncoder, calib_dir: Path | None
) -> agreement_mod.AgreementSet:
    """Agreement photos/captions and their PyTorch fp32 embeddings."""
    inputs = calibration.agreement_set(loaded, calib_dir)
    inputs = replace(inputs, tokens=inputs.tokens[: agreement_mod.TEXT_QUERIES])
    image = encoder.encode("image", inputs.pixels)
    return agreement_mod.AgreementSet(inputs, image, encoder.encode("text", inputs.tokens))


def _target_artifacts(state: _Build, target: str, precisions: Sequence[str]) -> list[Artifact]:
    if target == "onnx":
        if set(precisions) - {"fp32"}:
            log.info("onnx target: fp32 only (fp16/int8 come from openvino/tensorrt)")
        return [_onnx_artifact(state, tower) for tower in TOWERS]
    if target == "tensorrt" and "int8w" in precisions:
        log.info("tensorrt target: no int8w (OpenVINO weight-only int8); fp16/int8 plans instead")
        precisions = [p for p in precisions if p != "int8w"]
    build = _openvino_artifact if target == "openvino" else _tensorrt_artifact
    return [build(state, tower, p) for p in precisions for tower in TOWERS]


def _onnx_artifact(state: _Build, tower: str) -> Artifact:
    return _finish(state, tower, "onnxruntime", "fp32", state.onnx[tower], _onnx_versions())


def _openvino_artifact(state: _Build, tower: str, precision: str) -> Artifact:
    calib = state.int8_calibration() if precision == "int8" else None
    xml = state.out / f"{tower}_{precision}.xml"
    files = _timed(
        state,
        f"openvino.{tower}.{precision}",
        lambda: convert_openvino.convert(state.onnx[tower][0], xml, precision, tower, calib),
    )
    return _finish(state, tower, "openvino", precision, files, convert_openvino.versions())


def _tensorrt_artifact(state: _Build, tower: str, precision: str) -> Artifact:
    calib = state.int8_calibration().inputs(tower) if precision == "int8" else None
    spec, _ = tower_specs(state.loaded, tower)
    if tower == "text":  # plans get a fixed sequence length: one profile, no reshapes
        spec = TensorSpec(spec.name, spec.dtype, (-1, state.loaded.context_length))
    plan = state.out / f"{tower}_{precision}.plan"
    result = convert_tensorrt.build_plan(
        state.onnx[tower][0], plan, precision, spec, state.batch, calib
    )
    return _finish(
        state, tower, "tensorrt", precision, [plan], result.versions, result.device, result.input
    )


def _finish(
    state: _Build,
    tower: str,
    backend: str,
    precision: str,
    files: Sequence[Path],
    versions: dict[str, str],
    device: dict[str, str] | None = None,
    input_spec: TensorSpec | None = None,
) -> Artifact:
    """Checksum the files, measure parity with the runtime runner, apply the gate."""
    inp, out = tower_specs(state.loaded, tower)
    artifact = Artifact(
        tower=tower,
        backend=backend,
        precision=precision,
        files=tuple(file_entry(state.out, r) for r in relative(state.out, files)),
        inputs=(input_spec or inp,),
        outputs=(out,),
        batch=state.batch,
        versions=versions,
        device=device or {},
    )
    parity = validate.measure(
        state.out,
        artifact,
        state.reference.inputs(tower),
        state.expected[tower],
        RUN_DEVICE[backend],
    )
    validate.gate(artifact, parity, state.limits)
    agreement = agreement_mod.measure(state.out, artifact, state.agreement, RUN_DEVICE[backend])
    return replace(artifact, parity=parity, agreement=agreement)


def _timed(state: _Build, what: str, step: Callable[[], list[Path]]) -> list[Path]:
    """Run a build step, recording its wall time in the manifest's builder info."""
    start = time.perf_counter()
    result = step()
    state.notes[f"build_seconds.{what}"] = f"{time.perf_counter() - start:.2f}"
    return result


def _onnx_versions() -> dict[str, str]:
    import onnx
    import onnxruntime
    import torch

    return {
        "onnx": onnx.__version__,
        "onnxruntime": onnxruntime.__version__,
        "torch": torch.__version__,
    }


def _check_choices(what: str, given: Sequence[str], allowed: Sequence[str]) -> None:
    bad = [g for g in given if g not in allowed]
    if bad or not given:
        raise BuildError(f"{what}s {list(given)}: choose from {', '.join(allowed)}")


def model_spec(info: ModelInfo) -> str:
    """The `load_model` spec that rebuilds a bundle's reference model from its manifest."""
    for prefix in ("builtin:", "hf:", "cn_clip:"):
        if info.source.startswith(prefix):
            return info.source.removeprefix(prefix)
    return info.source


def verify_bundle(
    bundle_dir: Path, model: str | None = None, calib_dir: Path | None = None
) -> list[ParityReport]:
    """Re-check checksums, then re-measure parity and retrieval agreement of every
    artifact this machine can run.

    Artifacts that cannot run here come back with `parity=None` and the reason. The
    reference model is the manifest's source unless `model` names another spec;
    agreement is re-measured on `calib_dir` (generated shapes when None).
    """
    from engines.bundle import load_bundle

    bundle = load_bundle(Path(bundle_dir), verify=True)
    manifest = bundle.manifest
    loaded = load_model(model or model_spec(manifest.model))
    limits = _recorded_limits(manifest.builder)
    reference = calibration.reference_set(loaded, None)
    encoder = TorchEncoder(loaded)
    expected = {t: encoder.encode(t, reference.inputs(t)) for t in TOWERS}
    agree = _agreement_set(loaded, encoder, calib_dir)
    reports = []
    for artifact in manifest.artifacts:
        threshold = limits[artifact.precision]
        reason = validate.cannot_run_reason(artifact)
        if reason is not None:
            reports.append(ParityReport(artifact.key, None, threshold, reason))
            continue
        device = RUN_DEVICE[artifact.backend]
        try:
            parity = validate.measure(
                bundle.dir,
                artifact,
                reference.inputs(artifact.tower),
                expected[artifact.tower],
                device,
            )
            got = agreement_mod.measure(bundle.dir, artifact, agree, device)
        except (BackendUnavailableError, IncompatibleArtifactError) as exc:
            reports.append(ParityReport(artifact.key, None, threshold, str(exc)))
            continue
        reports.append(ParityReport(artifact.key, parity, threshold, "", got, artifact.agreement))
    from build_engines.ocr_models import verify_ocr

    return reports + verify_ocr(bundle.dir)  # OCR checksums + parity vs ONNX Runtime


def _recorded_limits(builder: Mapping[str, str]) -> dict[str, float]:
    """The gates the bundle was built with (defaults for bundles that did not record them)."""
    prefix = "parity_gate."
    recorded = {
        k.removeprefix(prefix): float(v) for k, v in builder.items() if k.startswith(prefix)
    }
    return validate.thresholds(recorded)
