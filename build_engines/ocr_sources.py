"""Where the PP-OCR models of a bundle come from: an installed wheel, or a local folder.

Models come as ONNX from two RapidOCR wheels (Apache-2.0; only *file sources* here:
nothing imports them): `rapidocr` 3.10 ships PP-OCRv6 small detection and recognition
(18,708 characters: Chinese, Japanese kana, Latin-script languages with accents) and
`rapidocr-onnxruntime` 1.4 ships PP-OCRv4 det/rec (6,623 characters, Chinese + English);
both ship the mobile v2.0 direction classifier. Three choices (`--ocr-models`):

* ``v6rec`` (default): PP-OCRv4 detection + PP-OCRv6 recognition. On the ICDAR 2015
  scene-text set ``text:"WORD"`` finds a photo by one of its words first 75% of the time
  (72% without the search's one-character tolerance; PP-OCRv4: 73% / 69%) for 1.1x
  PP-OCRv4's time; ``v6`` (PP-OCRv6 detection too) finds 74% for 1.4x
  (docs/benchmarks/ocr-v6-cpu/README.md).
* ``v6``: PP-OCRv6 small detection and recognition.
* ``v4``: PP-OCRv4 detection and recognition (what bundles held before).

Both recognisers carry their dictionary in the ONNX metadata (``character``); both
families share PaddleOCR's input conventions (BGR, scaled to [-1, 1], 48-pixel-high
recognition crops, CTC with blank first and a space last), so one runtime reads either.
The detector input size (`det_side`) is chosen per family by measurement and recorded
in the manifest: 960 for each (1280 adds 2-3 points of find-by-word recall for 1.45-1.55x
the time, over the 1.2x budget).
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
from dataclasses import dataclass
from pathlib import Path

from build_engines.errors import BuildError

DICT_NAME = "ppocr_keys_v1.txt"
TOWERS = ("ocr_det", "ocr_cls", "ocr_rec")


@dataclass(frozen=True)
class Wheel:
    """A wheel that ships PP-OCR ONNX files in its ``models/`` folder."""

    dist: str  # distribution name (pip)
    module: str  # import name (found, never imported)
    pinned: str  # the version scripts/bootstrap.sh installs


V4_WHEEL = Wheel("rapidocr-onnxruntime", "rapidocr_onnxruntime", "1.4.4")
V6_WHEEL = Wheel("rapidocr", "rapidocr", "3.10.0")


@dataclass(frozen=True)
class Family:
    """One PP-OCR model choice: which wheel each tower comes from."""

    name: str  # recorded in the manifest (OcrSpec.family)
    wheels: dict[str, Wheel]  # tower -> the wheel its model comes from
    describe: str
    det_side: int  # detector input bound, by measurement (docs/benchmarks/ocr-v6-cpu/)


FAMILIES = {
    "v4": Family("PP-OCRv4", dict.fromkeys(TOWERS, V4_WHEEL),
                 "PP-OCRv4 det/rec, ppocr mobile v2.0 cls", 960),
    "v6": Family("PP-OCRv6", dict.fromkeys(TOWERS, V6_WHEEL),
                 "PP-OCRv6 small det/rec, ppocr mobile v2.0 cls", 960),
    "v6rec": Family("PP-OCRv4 det + PP-OCRv6 rec",
                    {"ocr_det": V4_WHEEL, "ocr_cls": V6_WHEEL, "ocr_rec": V6_WHEEL},
                    "PP-OCRv4 det, PP-OCRv6 small rec, ppocr mobile v2.0 cls", 960),
}  # fmt: skip
DEFAULT_FAMILY = "v6rec"


@dataclass(frozen=True)
class OcrSource:
    """Where the three models and the dictionary come from, and under which licence."""

    models: dict[str, Path]  # tower -> .onnx
    dictionary: str
    source: str
    license: str
    family: str = FAMILIES[DEFAULT_FAMILY].name
    det_side: int = FAMILIES[DEFAULT_FAMILY].det_side


def family(key: str) -> Family:
    """The family for ``v4`` / ``v6`` (a clear error for anything else)."""
    try:
        return FAMILIES[key]
    except KeyError:
        raise BuildError(
            f"unknown OCR model family {key!r}: choose one of {sorted(FAMILIES)}"
        ) from None


def find_source(folder: Path | None = None, models: str = DEFAULT_FAMILY) -> OcrSource:
    """The installed wheel's models of family `models` (default) or a local folder's.

    A folder's models follow `models`' conventions (its detector size is recorded).
    """
    fam = family(models)
    if folder is None:
        return _wheel_source(fam)
    folder = Path(folder)
    found = {t: _one(folder, f"*{t.removeprefix('ocr_')}*.onnx") for t in TOWERS}
    keys = folder / DICT_NAME
    text = (
        keys.read_text(encoding="utf-8") if keys.is_file() else _dict_from_model(found["ocr_rec"])
    )
    licence = folder / "LICENSE"
    notice = licence.read_text(encoding="utf-8").splitlines()[0] if licence.is_file() else "unknown"
    return OcrSource(found, text, f"folder:{folder}", notice, fam.name, fam.det_side)


def _wheel_source(fam: Family) -> OcrSource:
    found = {
        t: _one(_models_dir(w), f"*{t.removeprefix('ocr_')}*.onnx") for t, w in fam.wheels.items()
    }
    wheels = sorted(set(fam.wheels.values()), key=lambda w: w.dist)
    versions = ", ".join(f"{w.dist} {importlib.metadata.version(w.dist)}" for w in wheels)
    licences = sorted({_licence(w) for w in wheels})
    return OcrSource(
        found,
        _dict_from_model(found["ocr_rec"]),
        f"{versions} ({fam.describe})",
        " + ".join(licences),
        fam.name,
        fam.det_side,
    )


def _models_dir(wheel: Wheel) -> Path:
    spec = importlib.util.find_spec(wheel.module)  # finds, never imports
    if spec is None or spec.origin is None:
        raise BuildError(
            f"the {wheel.dist} wheel is not installed: "
            f"`pip install --no-deps {wheel.dist}=={wheel.pinned}` "
            "(it is only a source of model files) or pass a folder of models"
        )
    return Path(spec.origin).parent / "models"


def _licence(wheel: Wheel) -> str:
    meta = importlib.metadata.metadata(wheel.dist)
    return str(meta["License-Expression"] or meta["License"])


def _one(folder: Path, pattern: str) -> Path:
    found = sorted(folder.glob(pattern))
    if len(found) != 1:
        raise BuildError(
            f"expected exactly one {pattern} in {folder}, found {[p.name for p in found]}"
        )
    return found[0]


def _dict_from_model(rec: Path) -> str:
    import onnx

    meta = {p.key: p.value for p in onnx.load(str(rec), load_external_data=False).metadata_props}
    if "character" not in meta:
        raise BuildError(f"{rec} has no 'character' metadata: put {DICT_NAME} next to it")
    return meta["character"].rstrip("\n") + "\n"
