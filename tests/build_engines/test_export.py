"""ONNX export of each tower: conventions of the bundle contract, run by the real runtime."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest

from build_engines.bundle_writer import file_entry
from build_engines.export_onnx import export_tower, tower_specs
from build_engines.models import load_model
from build_engines.models.base import LoadedClip
from build_engines.torch_backend import TorchEncoder
from engines.manifest import Artifact
from engines.registry import create_runner


@pytest.fixture(scope="module")
def tiny() -> LoadedClip:
    return load_model("tiny")


@pytest.fixture(scope="module")
def exported(tiny: LoadedClip, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("onnx")
    for tower in ("image", "text"):
        assert export_tower(tiny, tower, root / f"{tower}_fp32.onnx") == [
            root / f"{tower}_fp32.onnx"
        ]
    return root


@pytest.mark.parametrize(
    ("tower", "inp", "out", "elem"),
    [
        ("image", "pixel_values", "image_embeds", onnx.TensorProto.FLOAT),
        ("text", "input_ids", "text_embeds", onnx.TensorProto.INT64),
    ],
)
def test_graph_follows_the_contract(
    exported: Path, tower: str, inp: str, out: str, elem: int
) -> None:
    model = onnx.load(str(exported / f"{tower}_fp32.onnx"))
    assert [i.name for i in model.graph.input] == [inp]
    assert [o.name for o in model.graph.output] == [out]
    assert model.graph.input[0].type.tensor_type.elem_type == elem
    assert model.graph.input[0].type.tensor_type.shape.dim[0].dim_param  # dynamic batch
    assert max(o.version for o in model.opset_import if o.domain in ("", "ai.onnx")) >= 17
    assert not any(i.data_location == onnx.TensorProto.EXTERNAL for i in model.graph.initializer)


@pytest.mark.parametrize("batch", [1, 5])
def test_onnxruntime_matches_torch_at_any_batch(
    tiny: LoadedClip, exported: Path, batch: int
) -> None:
    rng = np.random.default_rng(batch)
    ids = np.pad(rng.integers(1, 49406, size=(batch, 5)), ((0, 0), (0, 72))).astype(np.int64)
    ids[:, 5] = 49407
    inputs: dict[str, np.ndarray] = {
        "image": rng.normal(size=(batch, 3, 64, 64)).astype(np.float32),
        "text": ids,
    }
    torch_enc = TorchEncoder(tiny)
    for tower, x in inputs.items():
        inp, out = tower_specs(tiny, tower)
        art = Artifact(
            tower,
            "onnxruntime",
            "fp32",
            (file_entry(exported, f"{tower}_fp32.onnx"),),
            (inp,),
            (out,),
        )
        runner = create_runner(exported, art)
        got = runner.run(x)
        runner.close()
        np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)  # norm in graph
        np.testing.assert_allclose(got, torch_enc.encode(tower, x), atol=1e-5)


def test_torch_encoder_fp16_is_close_to_fp32(tiny: LoadedClip) -> None:
    x = np.random.default_rng(0).normal(size=(2, 3, 64, 64)).astype(np.float32)
    ref, half = (
        TorchEncoder(tiny).encode_pixels(x),
        TorchEncoder(tiny, dtype="fp16").encode_pixels(x),
    )
    assert half.dtype == np.float32 and np.min(np.sum(ref * half, axis=1)) > 0.99
    np.testing.assert_array_equal(TorchEncoder(tiny).encode_pixels(x), ref)  # reference untouched
