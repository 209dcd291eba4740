"""Builders of small but real engine bundles, without torch or the builder.

The towers are hand-written ONNX graphs whose maths is trivial to repeat in numpy
(`reference_image`, `reference_text`), so every backend's output is checked against an
independent computation. OpenVINO IR is converted from the same ONNX with the real
converter; the manifest is written through `engines.manifest`.
"""

from __future__ import annotations

import importlib.util
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from engines.bundle import sha256_file
from engines.manifest import (
    Artifact,
    BatchProfile,
    FileEntry,
    ImageSpec,
    Manifest,
    ModelInfo,
    TensorSpec,
    TextSpec,
)

SIZE = 16
CONTEXT = 16
DIM = 8
VOCAB_SIZE = 49408
MEAN = (0.48145466, 0.4578275, 0.40821073)
STD = (0.26862954, 0.26130258, 0.27577711)
VOCAB_NAME = "bpe_simple_vocab_16e6.txt.gz"
OPSET = 17


def open_clip_dir() -> Path:
    spec = importlib.util.find_spec("open_clip")
    assert spec is not None and spec.submodule_search_locations, "open-clip-torch is not installed"
    return Path(next(iter(spec.submodule_search_locations)))


def image_weight() -> np.ndarray:
    return np.random.default_rng(1).standard_normal((3, DIM)).astype(np.float32)


def text_table() -> np.ndarray:
    return np.random.default_rng(2).standard_normal((VOCAB_SIZE, DIM)).astype(np.float32)


def _l2(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def reference_image(pixels: np.ndarray) -> np.ndarray:
    """numpy twin of the image graph: spatial mean -> @W -> L2."""
    return _l2(pixels.astype(np.float64).mean(axis=(2, 3)) @ image_weight())


def reference_text(ids: np.ndarray) -> np.ndarray:
    """numpy twin of the text graph: embedding lookup -> mean over positions -> L2."""
    return _l2(text_table()[ids].astype(np.float64).mean(axis=1))


def _save(graph: onnx.GraphProto, path: Path) -> None:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


def write_image_onnx(path: Path, batch: int | str = "N") -> None:
    """(N,3,S,S) -> GlobalAveragePool -> Flatten -> MatMul(W) -> LpNormalization."""
    inp = helper.make_tensor_value_info("pixel_values", TensorProto.FLOAT, [batch, 3, SIZE, SIZE])
    out = helper.make_tensor_value_info("image_embeds", TensorProto.FLOAT, [batch, DIM])
    nodes = [
        helper.make_node("GlobalAveragePool", ["pixel_values"], ["pooled"]),
        helper.make_node("Flatten", ["pooled"], ["flat"], axis=1),
        helper.make_node("MatMul", ["flat", "W"], ["proj"]),
        helper.make_node("LpNormalization", ["proj"], ["image_embeds"], axis=1, p=2),
    ]
    weight = numpy_helper.from_array(image_weight(), "W")
    _save(helper.make_graph(nodes, "image", [inp], [out], [weight]), path)


def write_text_onnx(path: Path) -> None:
    """(N,C) int64 -> Gather(table) -> ReduceMean(axis 1) -> LpNormalization."""
    inp = helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["N", CONTEXT])
    out = helper.make_tensor_value_info("text_embeds", TensorProto.FLOAT, ["N", DIM])
    nodes = [
        helper.make_node("Gather", ["table", "input_ids"], ["tok"], axis=0),
        helper.make_node("ReduceMean", ["tok"], ["mean"], axes=[1], keepdims=0),
        helper.make_node("LpNormalization", ["mean"], ["text_embeds"], axis=1, p=2),
    ]
    table = numpy_helper.from_array(text_table(), "table")
    _save(helper.make_graph(nodes, "text", [inp], [out], [table]), path)


def write_ir(onnx_path: Path, xml_path: Path) -> None:
    import openvino as ov

    ov.save_model(ov.convert_model(str(onnx_path)), str(xml_path), compress_to_fp16=False)


def entry(root: Path, rel: str) -> FileEntry:
    path = root / rel
    return FileEntry(path=rel, sha256=sha256_file(path), bytes=path.stat().st_size)


def _specs(tower: str) -> tuple[TensorSpec, TensorSpec]:
    if tower == "image":
        return (
            TensorSpec("pixel_values", "float32", (-1, 3, SIZE, SIZE)),
            TensorSpec("image_embeds", "float32", (-1, DIM)),
        )
    return TensorSpec("input_ids", "int64", (-1, CONTEXT)), TensorSpec(
        "text_embeds", "float32", (-1, DIM)
    )


def artifact(
    root: Path, tower: str, backend: str, precision: str, files: Sequence[str], **kw: object
) -> Artifact:
    inp, out = _specs(tower)
    return Artifact(
        tower=tower,
        backend=backend,
        precision=precision,
        files=tuple(entry(root, f) for f in files),
        inputs=(inp,),
        outputs=(out,),
        **kw,  # type: ignore[arg-type]
    )


def _write_towers(root: Path, tag: str) -> None:
    """ONNX + IR of both towers under `{tower}_{tag}.*`."""
    write_image_onnx(root / f"image_{tag}.onnx")
    write_text_onnx(root / f"text_{tag}.onnx")
    for tower in ("image", "text"):
        write_ir(root / f"{tower}_{tag}.onnx", root / f"{tower}_{tag}.xml")


def default_artifacts(root: Path, batch: BatchProfile) -> list[Artifact]:
    _write_towers(root, "fp32")
    out = []
    for tower in ("image", "text"):
        out.append(
            artifact(root, tower, "onnxruntime", "fp32", [f"{tower}_fp32.onnx"], batch=batch)
        )
        xml = [f"{tower}_fp32.xml", f"{tower}_fp32.bin"]
        out.append(artifact(root, tower, "openvino", "fp32", xml, batch=batch))
    return out


def write_manifest(root: Path, artifacts: Sequence[Artifact]) -> Manifest:
    tok_dir = root / "tokenizer"
    tok_dir.mkdir(exist_ok=True)
    shutil.copyfile(open_clip_dir() / VOCAB_NAME, tok_dir / VOCAB_NAME)
    manifest = Manifest(
        bundle_id="test-hand-made-000000000000",
        model=ModelInfo(id="hand-made", source="tests", family="builtin", note="numpy-checkable"),
        embedding_dim=DIM,
        image=ImageSpec(size=SIZE, mean=MEAN, std=STD),
        text=TextSpec(context_length=CONTEXT, tokenizer_files=(f"tokenizer/{VOCAB_NAME}",)),
        artifacts=tuple(artifacts),
        files=(entry(root, f"tokenizer/{VOCAB_NAME}"),),
    )
    manifest.save(root)
    return manifest
