"""A library folder of real photos with English and Chinese words drawn on them."""

from __future__ import annotations

from pathlib import Path

from build_engines.ocr_samples import CJK_FONT, Word, background, draw_words

#: file name -> (background, words drawn); the words the tests search for.
PHOTOS: dict[str, tuple[str, list[Word]]] = {
    "sign_en.jpg": ("coffee", [Word("WAREHOUSE", size=44, xy=(40, 40))]),
    "label_part.jpg": ("rocket", [Word("PART 4711", size=40, xy=(60, 300), angle=6)]),
    "shop_zh.jpg": ("chelsea", [Word("欢迎光临", CJK_FONT, 44, (40, 30))]),
    "bank_zh.jpg": ("coffee", [Word("中国银行", CJK_FONT, 40, (300, 300))]),
}
NO_TEXT = ("plain_cat.jpg", "chelsea")


def write_text_photos(folder: Path) -> dict[str, Path]:
    """Write the photos as JPEGs (quality 92, like a camera) and one photo without text."""
    folder.mkdir(parents=True, exist_ok=True)
    out: dict[str, Path] = {}
    for name, (bg, words) in PHOTOS.items():
        out[name] = folder / name
        draw_words(background(bg), words).save(out[name], quality=92)
    out[NO_TEXT[0]] = folder / NO_TEXT[0]
    background(NO_TEXT[1], 1.2).save(out[NO_TEXT[0]], quality=92)
    return out


def damaged_ocr_copy(bundle: Path, dest: Path) -> Path:
    """A copy of `bundle` whose recognition model's last 100 bytes are overwritten."""
    import shutil

    shutil.copytree(bundle, dest)
    rec = dest / "ocr" / "ocr_rec_fp32.onnx"
    rec.write_bytes(rec.read_bytes()[:-100] + b"x" * 100)
    return dest
