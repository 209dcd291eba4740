"""The engine bundle's manifest: a typed, versioned description of every artifact.

A bundle is a directory::

    manifest.json
    tokenizer/bpe_simple_vocab_16e6.txt.gz
    image_fp32.onnx, text_fp32.onnx, image_fp32.xml/.bin, image_fp16.plan, ...

The manifest is the single source of truth: the runtime picks a backend from the
artifacts listed here (never from file extensions) and checks every checksum.
Embeddings are L2-normalised *inside the graph* (``l2_normalized_in_graph`` is
always true for bundles written by `build_engines`).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from engines.errors import BundleError, BundleSchemaError

# Schema history (a manifest of an older version is migrated on load, see `_migrate`):
#   1: CLIP BPE only; the tokenizer was implied by `text.tokenizer_files`.
#   2: `text.tokenizer` (TokenizerSpec: kind, lower-casing, padding side) and
#      `image.crop_rounding`; version-1 manifests load as kind "clip_bpe", rounding "round".
SCHEMA_VERSION = 2
MANIFEST_NAME = "manifest.json"

TOWERS = ("image", "text")
BACKENDS = ("onnxruntime", "openvino", "tensorrt")
PRECISIONS = ("fp32", "fp16", "bf16", "int8", "int8w")  # int8w: int8 weights only


@dataclass(frozen=True)
class TensorSpec:
    """One input or output tensor. A dim of -1 is dynamic (the batch)."""

    name: str
    dtype: str  # numpy dtype name: "float32", "float16", "int64", "int32"
    shape: tuple[int, ...]


@dataclass(frozen=True)
class FileEntry:
    path: str  # relative to the bundle directory
    sha256: str
    bytes: int


@dataclass(frozen=True)
class BatchProfile:
    min: int = 1
    opt: int = 8
    max: int = 64


@dataclass(frozen=True)
class Parity:
    """Cosine similarity against the PyTorch fp32 reference, measured at build time."""

    min_cosine: float
    mean_cosine: float
    samples: int
    reference: str = "pytorch-fp32"


@dataclass(frozen=True)
class Agreement:
    """Retrieval agreement with PyTorch fp32: mean top-k overlap over text + image queries.

    Cosine parity says how close embeddings are; this says whether *search results*
    stay the same, which is what lets the runtime pick a faster precision by default.
    `bf16_overlap` is the same figure with OpenVINO's bf16 hint (None: not measured,
    e.g. the build machine had no native BF16).
    """

    overlap: float
    k: int
    queries: int
    photos: int
    bf16_overlap: float | None = None
    reference: str = "pytorch-fp32"


@dataclass(frozen=True)
class Artifact:
    tower: str  # "image" | "text"
    backend: str  # "onnxruntime" | "openvino" | "tensorrt"
    precision: str  # "fp32" | "fp16" | "int8" | "int8w" (OpenVINO weight-only int8)
    files: tuple[FileEntry, ...]  # first is the primary file (.onnx, .xml, .plan)
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    batch: BatchProfile = BatchProfile()
    versions: dict[str, str] = field(default_factory=dict)  # e.g. {"tensorrt": "10.3.0"}
    device: dict[str, str] = field(default_factory=dict)  # e.g. {"compute_capability": "8.7"}
    parity: Parity | None = None
    agreement: Agreement | None = None  # optional: older bundles lack it

    @property
    def primary(self) -> FileEntry:
        return self.files[0]

    @property
    def key(self) -> str:
        return f"{self.tower}/{self.backend}/{self.precision}"


@dataclass(frozen=True)
class ImageSpec:
    size: int  # square input side in pixels
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    resize: str = "shortest"  # "shortest" (resize short side, then centre crop) | "squash"
    interpolation: str = "bicubic"
    # Centre-crop offsets: "round" = torchvision/open_clip, "floor" = transformers processors.
    crop_rounding: str = "round"


TOKENIZER_KINDS = ("clip_bpe", "hf_tokenizers")


@dataclass(frozen=True)
class TokenizerSpec:
    """Which tokenizer the text tower expects: data, so the runtime dispatches on `kind`.

    `clip_bpe`: open_clip's byte-level BPE (`bpe_simple_vocab_16e6.txt.gz`).
    `hf_tokenizers`: a `tokenizer.json` for the Hugging Face `tokenizers` library (BERT
    WordPiece, SentencePiece/Unigram, ...), which adds its own special tokens.
    `lowercase`: the runtime lower-cases the text before the tokenizer (clip_bpe always does;
    a tokenizer.json normaliser that lower-cases itself records False here).
    `pad_to_context`: the text tower needs exactly `context_length` tokens (no attention
    mask, e.g. SigLIP); otherwise the runtime may drop trailing padding.
    """

    kind: str = "clip_bpe"
    lowercase: bool = True
    padding_side: str = "right"
    pad_to_context: bool = False


@dataclass(frozen=True)
class TextSpec:
    context_length: int
    tokenizer_files: tuple[str, ...]  # relative paths, also listed in Manifest.files
    sot_token: int = 49406  # first token (CLIP SOT, BERT [CLS]); -1 when there is none
    eot_token: int = 49407  # last real token (CLIP EOT, BERT [SEP], SentencePiece </s>)
    pad_token: int = 0
    tokenizer: TokenizerSpec = TokenizerSpec()


@dataclass(frozen=True)
class ModelInfo:
    id: str  # "toy-shapes", "openai/clip-vit-base-patch32", ...
    source: str  # "builtin:toy-shapes", "hf:/path/or/id", "open_clip:ViT-B-32:laion2b_s34b_b79k"
    family: str  # "hf-clip" | "hf-chinese-clip" | "hf-siglip" | "open_clip" | "builtin"
    note: str = ""  # e.g. "synthetic test model: understands shapes and colours only"


@dataclass(frozen=True)
class OcrSpec:
    """Optional PP-OCR models (text detection, direction classifier, recognition).

    Kept apart from `Manifest.artifacts` on purpose: OCR files do not change the
    `bundle_id` (adding OCR must not re-embed a library), and a damaged OCR file must
    not stop semantic search. Towers are `ocr_det`, `ocr_cls` and `ocr_rec`; the ONNX
    artifacts are the reference, converted ones carry `parity` against them (cosine
    of the flattened probability maps / logits) and `checks` has the details.
    """

    artifacts: tuple[Artifact, ...]
    dictionary: FileEntry  # one character per line; CTC class i+1 is line i, the last is " "
    source: str  # e.g. "rapidocr-onnxruntime 1.4.4 (PP-OCRv4 det/rec, mobile v2.0 cls)"
    license: str = "Apache-2.0"
    rec_height: int = 48
    cls_shape: tuple[int, int] = (48, 192)
    family: str = "PP-OCRv4"  # bundles written before the key existed were all PP-OCRv4
    det_side: int = 960  # detector input bound chosen for this family by measurement
    checks: dict[str, dict[str, float]] = field(default_factory=dict)

    def artifacts_for(self, tower: str) -> list[Artifact]:
        return [a for a in self.artifacts if a.tower == tower]

    @property
    def files(self) -> tuple[FileEntry, ...]:
        return (*(f for a in self.artifacts for f in a.files), self.dictionary)


@dataclass(frozen=True)
class Manifest:
    bundle_id: str
    model: ModelInfo
    embedding_dim: int
    image: ImageSpec
    text: TextSpec
    artifacts: tuple[Artifact, ...]
    files: tuple[FileEntry, ...] = ()  # non-artifact files (tokenizer)
    builder: dict[str, str] = field(default_factory=dict)
    created_at: str = ""
    l2_normalized_in_graph: bool = True
    schema_version: int = SCHEMA_VERSION
    ocr: OcrSpec | None = None  # optional; older runtimes ignore the key
    faces: str | None = None  # face-model manifest (faces/faces.json), see engines.faces.models

    def artifacts_for(self, tower: str) -> list[Artifact]:
        return [a for a in self.artifacts if a.tower == tower]

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    def save(self, bundle_dir: Path) -> Path:
        path = Path(bundle_dir) / MANIFEST_NAME
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(self.to_json() + "\n", encoding="utf-8")
        tmp.replace(path)
        return path

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Manifest:
        version = data.get("schema_version")
        if not isinstance(version, int):
            raise BundleSchemaError(
                "manifest.json has no integer schema_version: rebuild the bundle"
            )
        if version < 1:
            raise BundleSchemaError(
                f"bundle schema {version} predates this runtime's oldest supported (1): "
                "rebuild the bundle with `edge-build export`"
            )
        if version > SCHEMA_VERSION:
            raise BundleSchemaError(
                f"bundle schema {version} is newer than this runtime understands "
                f"({SCHEMA_VERSION}): update edge-photo-search or rebuild the bundle "
                "with the matching edge-build"
            )
        try:
            return _manifest_from_dict(_migrate(data))
        except (KeyError, TypeError, ValueError) as exc:
            raise BundleSchemaError(
                f"manifest.json is malformed ({exc!r}): rebuild the bundle"
            ) from exc

    @classmethod
    def load(cls, bundle_dir: Path) -> Manifest:
        path = Path(bundle_dir) / MANIFEST_NAME
        if not path.is_file():
            raise BundleError(
                f"{path} not found: {bundle_dir} is not an engine bundle "
                "(build one with `edge-build export --model ... --out DIR`)"
            )
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise BundleSchemaError(
                f"{path} is not valid JSON ({exc}): rebuild the bundle"
            ) from exc
        if not isinstance(data, dict):
            raise BundleSchemaError(f"{path} is not a JSON object: rebuild the bundle")
        return cls.from_dict(data)


def _tensor(d: dict[str, Any]) -> TensorSpec:
    return TensorSpec(
        name=str(d["name"]), dtype=str(d["dtype"]), shape=tuple(int(x) for x in d["shape"])
    )


def _file(d: dict[str, Any]) -> FileEntry:
    return FileEntry(path=str(d["path"]), sha256=str(d["sha256"]), bytes=int(d["bytes"]))


def _artifact(d: dict[str, Any]) -> Artifact:
    parity = d.get("parity")
    agreement = d.get("agreement")
    return Artifact(
        tower=str(d["tower"]),
        backend=str(d["backend"]),
        precision=str(d["precision"]),
        files=tuple(_file(f) for f in d["files"]),
        inputs=tuple(_tensor(t) for t in d["inputs"]),
        outputs=tuple(_tensor(t) for t in d["outputs"]),
        batch=BatchProfile(**d.get("batch", {})),
        versions={str(k): str(v) for k, v in d.get("versions", {}).items()},
        device={str(k): str(v) for k, v in d.get("device", {}).items()},
        parity=Parity(**parity) if parity else None,
        agreement=Agreement(**agreement) if agreement else None,
    )


def _manifest_from_dict(d: dict[str, Any]) -> Manifest:
    img, txt = d["image"], d["text"]
    return Manifest(
        schema_version=int(d["schema_version"]),
        bundle_id=str(d["bundle_id"]),
        model=ModelInfo(**d["model"]),
        embedding_dim=int(d["embedding_dim"]),
        image=ImageSpec(
            size=int(img["size"]),
            mean=tuple(float(x) for x in img["mean"]),  # type: ignore[arg-type]
            std=tuple(float(x) for x in img["std"]),  # type: ignore[arg-type]
            resize=str(img.get("resize", "shortest")),
            interpolation=str(img.get("interpolation", "bicubic")),
            crop_rounding=str(img.get("crop_rounding", "round")),
        ),
        text=TextSpec(
            context_length=int(txt["context_length"]),
            tokenizer_files=tuple(str(x) for x in txt["tokenizer_files"]),
            sot_token=int(txt.get("sot_token", 49406)),
            eot_token=int(txt.get("eot_token", 49407)),
            pad_token=int(txt.get("pad_token", 0)),
            tokenizer=_tokenizer(txt["tokenizer"]),
        ),
        artifacts=tuple(_artifact(a) for a in d["artifacts"]),
        files=tuple(_file(f) for f in d.get("files", [])),
        builder={str(k): str(v) for k, v in d.get("builder", {}).items()},
        created_at=str(d.get("created_at", "")),
        l2_normalized_in_graph=bool(d.get("l2_normalized_in_graph", True)),
        ocr=_ocr(d["ocr"]) if d.get("ocr") else None,
        faces=str(d["faces"]) if d.get("faces") else None,
    )


def _ocr(d: dict[str, Any]) -> OcrSpec:
    h, w = (int(x) for x in d.get("cls_shape", (48, 192)))
    return OcrSpec(
        artifacts=tuple(_artifact(a) for a in d["artifacts"]),
        dictionary=_file(d["dictionary"]),
        source=str(d["source"]),
        license=str(d.get("license", "")),
        rec_height=int(d.get("rec_height", 48)),
        cls_shape=(h, w),
        family=str(d.get("family", "PP-OCRv4")),
        det_side=int(d.get("det_side", 960)),
        checks={
            str(k): {str(m): float(v) for m, v in vals.items()}
            for k, vals in d.get("checks", {}).items()
        },
    )


def _tokenizer(d: dict[str, Any]) -> TokenizerSpec:
    spec = TokenizerSpec(
        kind=str(d["kind"]),
        lowercase=bool(d["lowercase"]),
        padding_side=str(d.get("padding_side", "right")),
        pad_to_context=bool(d.get("pad_to_context", False)),
    )
    if spec.kind not in TOKENIZER_KINDS:
        raise ValueError(f"tokenizer kind {spec.kind!r} is not one of {TOKENIZER_KINDS}")
    if spec.padding_side not in ("right", "left"):
        raise ValueError(f"tokenizer padding_side {spec.padding_side!r}: expected right|left")
    return spec


def _migrate(data: dict[str, Any]) -> dict[str, Any]:
    """Bring an older manifest to the current schema (each step is one version)."""
    if data["schema_version"] < 2:
        # Version 1 knew only CLIP's BPE with torchvision's centre crop.
        text = dict(data["text"])
        text["tokenizer"] = asdict(TokenizerSpec())
        data = {**data, "text": text, "schema_version": 2}
    return data
