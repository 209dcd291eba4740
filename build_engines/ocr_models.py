"""PP-OCR models into a bundle: copy, record, convert, and prove parity against ONNX Runtime.

Sources (`build_engines.ocr_sources`): PP-OCRv6 (default) from the `rapidocr` wheel or
PP-OCRv4 from `rapidocr-onnxruntime` (both Apache-2.0), each with the mobile v2.0
direction classifier; the recognition dictionary is stored in the recognition model's
metadata and written to the bundle as `ppocr_keys_v1.txt`. A local folder with
`*det*.onnx`, `*rec*.onnx`, `*cls*.onnx` (and `ppocr_keys_v1.txt`) works too.

ONNX Runtime fp32 is the reference (the models were exported from Paddle to ONNX by
their authors); each converted artifact is run through the runtime's own runners on
real photos with drawn words and compared: cosine of the flattened detection maps /
logits (gated like the CLIP towers), plus max |diff| and argmax agreement recorded.
"""

from __future__ import annotations

import importlib.metadata
import logging
import shutil
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from build_engines import convert_openvino, validate
from build_engines.bundle_writer import file_entry
from build_engines.errors import ConversionError, ParityError
from build_engines.ocr_sources import DEFAULT_FAMILY, DICT_NAME, TOWERS, OcrSource, find_source
from build_engines.validate import ParityReport
from engines.manifest import Artifact, BatchProfile, FileEntry, Manifest, OcrSpec, TensorSpec

log = logging.getLogger(__name__)

OCR_DIR = "ocr"
WORK_DIR = "ocr.partial"  # staged here; swapped in for ocr/ only after the parity gate
OCR_PRECISIONS = ("fp32", "fp16")
REFERENCE = "onnxruntime-fp32"
BATCH = {
    "ocr_det": BatchProfile(1, 1, 1),
    "ocr_cls": BatchProfile(1, 8, 32),
    "ocr_rec": BatchProfile(1, 8, 32),
}


def tensor_specs(onnx_path: Path, tower: str, classes: int) -> tuple[TensorSpec, TensorSpec]:
    """Input/output specs by the PP-OCR conventions, with the graph's own tensor names."""
    import onnx

    graph = onnx.load(str(onnx_path), load_external_data=False).graph
    inp, out = graph.input[0].name, graph.output[0].name
    shapes = {
        "ocr_det": ((-1, 3, -1, -1), (-1, 1, -1, -1)),
        "ocr_cls": ((-1, 3, 48, 192), (-1, 2)),
        "ocr_rec": ((-1, 3, 48, -1), (-1, -1, classes)),
    }[tower]
    return TensorSpec(inp, "float32", shapes[0]), TensorSpec(out, "float32", shapes[1])


def add_ocr(
    bundle_dir: Path,
    folder: Path | None = None,
    targets: Sequence[str] = ("onnx", "openvino"),
    precisions: Sequence[str] = ("fp32",),
    models: str = DEFAULT_FAMILY,
) -> OcrSpec:
    """Copy, convert and parity-check the OCR models; rewrite the manifest with them.

    `models` picks the family (``v6`` or ``v4``, see `build_engines.ocr_sources`). The
    CLIP artifacts and the bundle_id are untouched (no re-embedding needed).
    """
    from build_engines.ocr_parity import measure_all

    bundle_dir = Path(bundle_dir)
    manifest = Manifest.load(bundle_dir)
    if "tensorrt" in targets:
        log.warning(
            "OCR: TensorRT plans need dynamic H/W profiles, not built yet; "
            "the OCR models run on ONNX Runtime/OpenVINO"
        )
    src = find_source(folder, models)
    work = bundle_dir / WORK_DIR
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    try:
        spec = _gate(measure_all(bundle_dir, _stage(bundle_dir, src, targets, precisions)))
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)  # the live ocr/ and manifest stay as they were
        raise
    spec = _publish(bundle_dir, spec)
    replace(manifest, ocr=spec).save(bundle_dir)
    log.info("OCR models added to %s (%d artifacts)", bundle_dir, len(spec.artifacts))
    return spec


def _stage(
    bundle_dir: Path, src: OcrSource, targets: Sequence[str], precisions: Sequence[str]
) -> OcrSpec:
    """Everything written to the staging folder; the live `ocr/` is not touched yet."""
    (bundle_dir / WORK_DIR / DICT_NAME).write_text(src.dictionary, encoding="utf-8")
    classes = len(src.dictionary.splitlines()) + 2  # + CTC blank + space
    onnx_arts = [_copy_onnx(bundle_dir, src.models[t], t, classes) for t in TOWERS]
    converted = [
        _openvino(bundle_dir, a, p)
        for p in precisions
        if p in OCR_PRECISIONS and "openvino" in targets
        for a in onnx_arts
    ]
    return OcrSpec(
        artifacts=tuple(onnx_arts + converted),
        dictionary=file_entry(bundle_dir, f"{WORK_DIR}/{DICT_NAME}"),
        source=src.source,
        license=src.license,
        family=src.family,
        det_side=src.det_side,
    )


def _publish(bundle_dir: Path, spec: OcrSpec) -> OcrSpec:
    """Swap the checked staging folder in for `ocr/`; paths in the spec follow it."""
    old = bundle_dir / f"{OCR_DIR}.old"
    shutil.rmtree(old, ignore_errors=True)
    if (bundle_dir / OCR_DIR).exists():
        (bundle_dir / OCR_DIR).rename(old)
    (bundle_dir / WORK_DIR).rename(bundle_dir / OCR_DIR)
    shutil.rmtree(old, ignore_errors=True)

    def home(entry: FileEntry) -> FileEntry:
        return replace(entry, path=OCR_DIR + entry.path.removeprefix(WORK_DIR))

    arts = tuple(replace(a, files=tuple(home(f) for f in a.files)) for a in spec.artifacts)
    return replace(spec, artifacts=arts, dictionary=home(spec.dictionary))


def _copy_onnx(bundle_dir: Path, model: Path, tower: str, classes: int) -> Artifact:
    rel = f"{WORK_DIR}/{tower}_fp32.onnx"
    shutil.copyfile(model, bundle_dir / rel)
    inp, out = tensor_specs(bundle_dir / rel, tower, classes)
    return Artifact(
        tower=tower,
        backend="onnxruntime",
        precision="fp32",
        files=(file_entry(bundle_dir, rel),),
        inputs=(inp,),
        outputs=(out,),
        batch=BATCH[tower],
        versions=_versions("onnxruntime"),
    )


def _openvino(bundle_dir: Path, onnx_art: Artifact, precision: str) -> Artifact:
    xml = bundle_dir / WORK_DIR / f"{onnx_art.tower}_{precision}.xml"
    try:
        paths = convert_openvino.convert(bundle_dir / onnx_art.primary.path, xml, precision, "ocr")
    except ConversionError as exc:
        raise ConversionError(f"OCR {onnx_art.tower}: {exc}") from exc
    rels = [p.relative_to(bundle_dir).as_posix() for p in paths]
    return replace(
        onnx_art,
        backend="openvino",
        precision=precision,
        files=tuple(file_entry(bundle_dir, r) for r in rels),
        versions=convert_openvino.versions(),
    )


def _versions(package: str) -> dict[str, str]:
    return {package: importlib.metadata.version(package)}


def _gate(spec: OcrSpec) -> OcrSpec:
    """Every converted artifact must meet its precision's cosine gate."""
    limits = validate.thresholds()
    for art in spec.artifacts:
        if art.parity is not None and art.parity.min_cosine < limits[art.precision]:
            raise ParityError(
                f"OCR {art.key}: min cosine {art.parity.min_cosine:.5f} < {limits[art.precision]} "
                f"vs {REFERENCE} ({spec.checks.get(art.key)}): drop this precision"
            )
    return spec


def verify_ocr(bundle_dir: Path) -> list[ParityReport]:
    """Checksums of the OCR files, then parity of every converted OCR artifact re-measured."""
    from build_engines.ocr_parity import measure_all
    from engines.bundle import load_bundle
    from engines.ocr import verify_ocr_files

    bundle = load_bundle(Path(bundle_dir), verify=False)
    if bundle.manifest.ocr is None:
        return []
    verify_ocr_files(bundle)
    fresh = measure_all(bundle.dir, bundle.manifest.ocr)
    limits = validate.thresholds()
    return [
        ParityReport(a.key, a.parity, limits[a.precision])
        for a in fresh.artifacts
        if a.backend != "onnxruntime"
    ]
