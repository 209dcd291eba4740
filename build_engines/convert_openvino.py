"""ONNX -> OpenVINO IR at fp32, fp16 (weights compressed), int8w (int8 weights, float
compute) or int8 (NNCF post-training).

fp32/fp16 are a straight conversion, int8w compresses weights only (no calibration).
int8 quantises activations too, so it needs
calibration inputs that look like real use: `build_engines.calibration` supplies them.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from build_engines.calibration import CalibrationSet
from build_engines.errors import ConversionError

log = logging.getLogger(__name__)

PRECISIONS = ("fp32", "fp16", "int8", "int8w")


def versions() -> dict[str, str]:
    """Tool versions recorded on every OpenVINO artifact."""
    import nncf
    import openvino as ov

    return {"openvino": str(ov.__version__), "nncf": str(nncf.__version__)}


def convert(
    onnx_path: Path,
    xml_path: Path,
    precision: str,
    tower: str,
    calib: CalibrationSet | None = None,
) -> list[Path]:
    """Write `xml_path` (+ .bin); returns [xml, bin]. int8 requires `calib`."""
    import openvino as ov

    if precision not in PRECISIONS:
        raise ConversionError(f"OpenVINO precision {precision!r}: expected one of {PRECISIONS}")
    try:
        model = ov.convert_model(str(onnx_path))
    except Exception as exc:  # OpenVINO raises bare RuntimeError/OpConversionFailure
        raise ConversionError(f"ov.convert_model({onnx_path.name}) failed: {exc}") from exc
    if precision == "int8":
        if calib is None:
            raise ConversionError("int8 OpenVINO conversion needs calibration data (--calib DIR)")
        model = quantize_int8(model, calib.inputs(tower))
    elif precision == "int8w":
        model = compress_weights_int8(model)
    ov.save_model(model, str(xml_path), compress_to_fp16=precision == "fp16")
    return [xml_path, xml_path.with_suffix(".bin")]


def compress_weights_int8(model: object) -> object:
    """int8 weights (per-channel, asymmetric), float activations: no calibration needed.

    Why: the CPU plugin keeps these weights compressed and decompresses them inside its
    matmul kernels, so a ViT-B/32 pair needs ~150 MB of weights instead of ~600 MB, at
    fp32/bf16 speed and a cosine parity near fp32's (docs/benchmarks/daemon-100k).
    """
    import nncf

    try:
        return nncf.compress_weights(model, mode=nncf.CompressWeightsMode.INT8_ASYM)
    except Exception as exc:  # NNCF wraps backend errors in many types
        raise ConversionError(f"NNCF int8 weight compression failed: {exc}") from exc


def quantize_int8(model: object, samples: np.ndarray) -> object:
    """NNCF post-training quantisation with transformer-aware presets (keeps SmoothQuant etc.)."""
    import nncf

    items = [samples[i : i + 1] for i in range(len(samples))]
    log.info("NNCF int8 calibration on %d samples", len(items))
    try:
        return nncf.quantize(
            model,
            nncf.Dataset(items),
            model_type=nncf.ModelType.TRANSFORMER,
            subset_size=len(items),
        )
    except Exception as exc:  # NNCF wraps backend errors in many types
        raise ConversionError(f"NNCF int8 quantisation failed: {exc}") from exc
