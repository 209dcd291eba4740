"""decode_image on real files written by the tests (Pillow, pillow-heif), good and bad."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import pytest
from PIL import Image

from edge_app.errors import ImageDecodeError
from edge_app.indexing.imaging import decode_image, sniff_non_image


def _gradient(size: tuple[int, int]) -> Image.Image:
    """A photo-like image (not flat), so JPEG sizes and orientation checks mean something."""
    w, h = size
    im = Image.linear_gradient("L").resize((w, h))
    return Image.merge("RGB", (im, im.transpose(Image.Transpose.FLIP_LEFT_RIGHT), im))


def _exif_bytes(orientation: int = 1, gps: bool = True) -> bytes:
    exif = Image.Exif()
    exif[0x010F] = "Canon"
    exif[0x0110] = "EOS 5D"
    exif[0x0112] = orientation
    exif.get_ifd(0x8769)[0x9003] = "2023:07:14 18:03:11"
    if gps:
        g = exif.get_ifd(0x8825)
        g[1], g[2] = "N", (48.0, 51.0, 29.0)
        g[3], g[4] = "W", (2.0, 17.0, 40.0)
    return exif.tobytes()


def _png_header_only(width: int, height: int) -> bytes:
    """A valid PNG signature + IHDR claiming any size, and a few bytes of pixel data."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", zlib.compress(b"\0" * 64))


def _chunk(kind: bytes, payload: bytes) -> bytes:
    crc = struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF)
    return struct.pack(">I", len(payload)) + kind + payload + crc


def test_large_jpeg_is_dct_downscaled_before_resize(tmp_path: Path) -> None:
    path = tmp_path / "big.jpg"
    _gradient((4000, 3000)).save(path, quality=80)
    out = decode_image(path, model_size=224, thumb_size=256)
    # draft mode: libjpeg decoded at 1/8 (500x375), not 12 MP
    assert out.decoded_size == (500, 375)
    assert (out.width, out.height) == (4000, 3000)
    assert out.image.mode == "RGB" and min(out.image.size) == 224
    assert out.image.size == (299, 224)
    thumb = Image.open(io.BytesIO(out.thumbnail_jpeg))
    assert thumb.format == "JPEG" and max(thumb.size) == 256


def test_small_model_size_still_gets_a_full_thumbnail(tmp_path: Path) -> None:
    path = tmp_path / "big.jpg"
    _gradient((2048, 1536)).save(path)
    out = decode_image(path, model_size=32, thumb_size=256)
    assert min(out.image.size) == 32
    assert max(Image.open(io.BytesIO(out.thumbnail_jpeg)).size) == 256
    assert max(out.decoded_size) >= 256


def test_exif_orientation_and_fields(tmp_path: Path) -> None:
    path = tmp_path / "rotated.jpg"
    _gradient((640, 480)).save(path, exif=_exif_bytes(orientation=6))
    out = decode_image(path, model_size=224)
    assert (out.width, out.height) == (480, 640)  # displayed upright: portrait
    assert out.image.size[0] < out.image.size[1]
    exif = out.exif
    assert exif.orientation == 6
    assert (exif.camera_make, exif.camera_model) == ("Canon", "EOS 5D")
    assert exif.taken_at == "2023-07-14T18:03:11"
    assert exif.gps_lat == pytest.approx(48.858, abs=1e-3)
    assert exif.gps_lon == pytest.approx(-2.2944, abs=1e-3)


def test_no_exif_gives_empty_fields(tmp_path: Path) -> None:
    path = tmp_path / "plain.png"
    _gradient((300, 200)).save(path)
    out = decode_image(path, model_size=64)
    assert out.exif.taken_at is None and out.exif.gps_lat is None
    assert out.format == "PNG" and out.notes == ()


@pytest.mark.parametrize(
    "fmt,ext", [("PNG", "png"), ("WEBP", "webp"), ("TIFF", "tif"), ("BMP", "bmp")]
)
def test_other_formats(tmp_path: Path, fmt: str, ext: str) -> None:
    path = tmp_path / f"photo.{ext.upper()}"
    _gradient((320, 240)).save(path, fmt)
    out = decode_image(path, model_size=100)
    assert out.format == fmt and min(out.image.size) == 100 and out.image.mode == "RGB"


def test_multi_picture_jpeg_from_a_camera(tmp_path: Path) -> None:
    path = tmp_path / "DSC_0001.JPG"
    frames = [_gradient((1600, 1200)), _gradient((160, 120))]
    frames[0].save(path, "MPO", save_all=True, append_images=frames[1:])
    out = decode_image(path, 224)
    assert out.format == "MPO" and out.notes == ()
    assert out.decoded_size == (400, 300)  # draft mode works for MPO too


def test_gif_first_frame_and_transparency_on_white(tmp_path: Path) -> None:
    path = tmp_path / "anim.gif"
    frames = [Image.new("RGB", (64, 64), c) for c in ((255, 0, 0), (0, 0, 255))]
    frames[0].save(path, save_all=True, append_images=frames[1:])
    red, _, blue = decode_image(path, 64).image.getpixel((10, 10))  # type: ignore[misc]
    assert red > 200 and blue < 50  # the first (red) frame, not the blue one
    rgba = Image.new("RGBA", (64, 64), (0, 0, 0, 0))
    rgba.save(tmp_path / "clear.png")
    assert decode_image(tmp_path / "clear.png", 64).image.getpixel((5, 5)) == (255, 255, 255)


def test_heif_written_by_pillow_heif(tmp_path: Path) -> None:
    pillow_heif = pytest.importorskip("pillow_heif")
    if not pillow_heif.libheif_info().get("HEIF"):
        pytest.skip("pillow-heif has no HEVC encoder here, cannot write a test HEIC")
    pillow_heif.register_heif_opener()
    path = tmp_path / "IMG_0001.HEIC"
    _gradient((640, 480)).save(path, format="HEIF", quality=80)
    out = decode_image(path, model_size=224)
    assert out.format == "HEIF" and (out.width, out.height) == (640, 480)
    assert out.image.size == (299, 224)


def test_16bit_grey_png_is_scaled_not_clipped(tmp_path: Path) -> None:
    path = tmp_path / "scan.png"
    Image.new("I;16", (40, 40), 32768).save(path)
    assert decode_image(path, 40).image.getpixel((0, 0)) == (128, 128, 128)


def test_zero_byte(tmp_path: Path) -> None:
    (tmp_path / "empty.jpg").write_bytes(b"")
    with pytest.raises(ImageDecodeError, match="zero-byte file"):
        decode_image(tmp_path / "empty.jpg", 224)


def test_truncated_jpeg(tmp_path: Path) -> None:
    buf = io.BytesIO()
    _gradient((800, 600)).save(buf, "JPEG")
    (tmp_path / "cut.jpg").write_bytes(buf.getvalue()[: len(buf.getvalue()) // 3])
    with pytest.raises(ImageDecodeError, match="truncated JPEG"):
        decode_image(tmp_path / "cut.jpg", 224)


def test_jpeg_cut_inside_its_header(tmp_path: Path) -> None:
    buf = io.BytesIO()
    _gradient((800, 600)).save(buf, "JPEG")
    (tmp_path / "cut.jpg").write_bytes(buf.getvalue()[:400])
    with pytest.raises(ImageDecodeError, match=r"truncated JPEG file \(header incomplete\)"):
        decode_image(tmp_path / "cut.jpg", 224)


def test_garbage_bytes_and_pdf_and_text(tmp_path: Path) -> None:
    (tmp_path / "noise.jpg").write_bytes(bytes(range(256)) * 8)
    (tmp_path / "doc.jpg").write_bytes(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n")
    (tmp_path / "notes.jpg").write_text("shopping list: milk, eggs\n")
    with pytest.raises(ImageDecodeError, match=r"not an image \(unrecognised content\)"):
        decode_image(tmp_path / "noise.jpg", 224)
    with pytest.raises(ImageDecodeError, match=r"not an image \(looks like a PDF\)"):
        decode_image(tmp_path / "doc.jpg", 224)
    with pytest.raises(ImageDecodeError, match=r"not an image \(looks like a text file\)"):
        decode_image(tmp_path / "notes.jpg", 224)


def test_corrupt_jpeg_header(tmp_path: Path) -> None:
    buf = io.BytesIO()
    _gradient((200, 100)).save(buf, "JPEG")
    data = bytearray(buf.getvalue())
    data[2:40] = b"\xff" * 38  # SOI survives, headers are destroyed
    (tmp_path / "bad.jpg").write_bytes(bytes(data))
    with pytest.raises(ImageDecodeError):
        decode_image(tmp_path / "bad.jpg", 224)


def test_wrong_extension_is_accepted_and_noted(tmp_path: Path) -> None:
    path = tmp_path / "really_a_png.jpg"
    _gradient((120, 90)).save(path, "PNG")
    out = decode_image(path, 64)
    assert out.format == "PNG"
    assert out.notes == ("extension .jpg but content is PNG",)


def test_gigapixel_header_is_rejected_without_decoding(tmp_path: Path) -> None:
    path = tmp_path / "bomb.png"
    path.write_bytes(_png_header_only(40000, 25000))  # 1 GP header in a ~60-byte file
    with pytest.raises(ImageDecodeError, match="image too large: 1000 MP exceeds the 179 MP limit"):
        decode_image(path, 224)


def test_custom_pixel_limit_names_the_size(tmp_path: Path) -> None:
    path = tmp_path / "wide.png"
    path.write_bytes(_png_header_only(6000, 4000))  # 24 MP header, no pixel data
    with pytest.raises(
        ImageDecodeError, match="image too large: 6000x4000 pixels exceeds the 20 MP"
    ):
        decode_image(path, 224, max_pixels=20_000_000)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ImageDecodeError, match="cannot read file"):
        decode_image(tmp_path / "gone.jpg", 224)


def test_sniff_names_common_non_images() -> None:
    assert sniff_non_image(b"\x00\x00\x00\x18ftypmp42") == "looks like a video (mp42 container)"
    assert sniff_non_image(b"PK\x03\x04rest") == "looks like a ZIP archive or office document"
    assert sniff_non_image(b"<!DOCTYPE html><html>") == "looks like a web page"
