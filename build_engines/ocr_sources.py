"""Where the PP-OCR models of a bundle come from: an installed wheel, or a local folder.

Two model families are known, each shipped as ONNX by a RapidOCR wheel (Apache-2.0;
the wheels are only *file sources* here: nothing imports them):

* ``v6`` (default): `rapidocr` 3.10 ships PP-OCRv6 small detection and recognition
  (18,708 characters: Chinese, Japanese kana, Latin-script languages) plus the mobile
  v2.0 direction classifier. Measured better on scene text
  (docs/benchmarks/ocr-v6-cpu/).
* ``v4``: `rapidocr-onnxruntime` 1.4 ships PP-OCRv4 det/rec (6,623 characters,
  Chinese + English) plus the same classifier.

Both recognisers carry their dictionary in the ONNX metadata (``character``); both
families share PaddleOCR's input conventions (BGR, scaled to [-1, 1], 48-pixel-high
recognition crops, CTC with blank first and a space last), so one runtime reads either.
The detector input size (`det_side`) is chosen per family by measurement and recorded
in the manifest; a local folder may use either family's conventions.
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
class Family:
    """One PP-OCR model family and the wheel that ships it."""

    name: str  # recorded in the manifest (OcrSpec.family)
    wheel: str  # distribution name (pip)
    module: str  # import name (found, never imported)
    pinned: str  # the version scripts/bootstrap.sh installs
    describe: str
    det_side: int  # detector input bound, by measurement (docs/benchmarks/ocr-v6-cpu/)


FAMILIES = {
    "v4": Family("PP-OCRv4", "rapidocr-onnxruntime", "rapidocr_onnxruntime", "1.4.4",
                 "PP-OCRv4 det/rec, ppocr mobile v2.0 cls", 960),
    "v6": Family("PP-OCRv6", "rapidocr", "rapidocr", "3.10.0",
                 "PP-OCRv6 small det/rec, ppocr mobile v2.0 cls", 960),
}  # fmt: skip
DEFAULT_FAMILY = "v6"


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
    spec = importlib.util.find_spec(fam.module)  # finds, never imports
    if spec is None or spec.origin is None:
        raise BuildError(
            f"the {fam.wheel} wheel ({fam.name} models) is not installed: "
            f"`pip install --no-deps {fam.wheel}=={fam.pinned}` "
            "(it is only a source of model files) or pass a folder of models"
        )
    models_dir = Path(spec.origin).parent / "models"
    found = {t: _one(models_dir, f"*{t.removeprefix('ocr_')}*.onnx") for t in TOWERS}
    meta = importlib.metadata.metadata(fam.wheel)
    version = importlib.metadata.version(fam.wheel)
    licence = meta["License-Expression"] or meta["License"]
    return OcrSource(
        found,
        _dict_from_model(found["ocr_rec"]),
        f"{fam.wheel} {version} ({fam.describe})",
        str(licence),
        fam.name,
        fam.det_side,
    )


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
