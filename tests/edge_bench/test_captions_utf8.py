"""`edge-bench quality` caption files in any language (UTF-8), incl. Chinese ones."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from edge_bench.captions import load_caption_set
from edge_bench.cli import main


@pytest.fixture
def images(tmp_path: Path) -> Path:
    for name in ("a.jpg", "b.jpg", "c.jpg"):
        (tmp_path / name).write_bytes(b"x")
    return tmp_path


def test_chinese_csv_with_bom_and_commas(images: Path) -> None:
    text = (
        "\ufeffimage,caption\n"
        "a.jpg,穿着连衣裙的小女孩，走上楼梯。\n"
        "a.jpg,一个女孩, 在木屋前\n"  # unquoted ASCII comma inside the caption
        'b.jpg,"海滩上的狗, 嘴里叼着球"\n'
        "c.jpg,行分隔符\u2028之后 and 日本語のキャプション 🐶\n"
    )
    (images / "zh.txt").write_text(text, encoding="utf-8")
    items = load_caption_set(images, images / "zh.txt")
    assert [(i.path.name, i.captions) for i in items] == [
        ("a.jpg", ("穿着连衣裙的小女孩，走上楼梯。", "一个女孩, 在木屋前")),
        ("b.jpg", ("海滩上的狗, 嘴里叼着球",)),
        ("c.jpg", ("行分隔符\u2028之后 and 日本語のキャプション 🐶",)),
    ]


def test_chinese_json(images: Path) -> None:
    (images / "zh.json").write_text(json.dumps({"a.jpg": ["红色的圆形"]}, ensure_ascii=False))
    assert load_caption_set(images, images / "zh.json")[0].captions == ("红色的圆形",)


def test_not_utf8_is_a_clear_error(images: Path) -> None:
    (images / "gbk.txt").write_bytes("image,caption\na.jpg,红色的圆形\n".encode("gbk"))
    with pytest.raises(ValueError, match="not UTF-8.*iconv"):
        load_caption_set(images, images / "gbk.txt")


def test_quality_with_chinese_captions(
    bilingual_bundle: Path, shapes_photos: list[tuple[Path, object]], tmp_path: Path
) -> None:
    from build_engines.shapes import ShapeSpec, caption_variants_zh

    folder = shapes_photos[0][0].parent
    captions = tmp_path / "captions_zh.txt"
    with captions.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["image", "caption"])
        for path, spec in shapes_photos[:16]:
            assert isinstance(spec, ShapeSpec)
            w.writerow([path.name, caption_variants_zh(spec)[1]])
    out = tmp_path / "q"
    args = ["quality", "--images", str(folder), "--captions", str(captions)]
    assert main([*args, "--bundle", str(bilingual_bundle), "--out", str(out)]) == 0
    payload = json.loads((out / "quality.json").read_text("utf-8"))
    assert payload["captions"] == 16
    # Captions name colour + shape only, so several photos can match: R@5 must be high.
    assert payload["text_to_image"]["R@5"] >= 0.8, payload["text_to_image"]
