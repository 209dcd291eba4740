"""Library folders of real photos with a real face: scikit-image's bundled `astronaut`.

The same face appears in several photos (cropped, mirrored, darker, smaller); `coffee`
has no face. One identity is enough for the People operations: split makes a second
person out of some of her faces, merge joins them again.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageEnhance
from skimage import data

FACE_PHOTOS = ("astro.jpg", "astro_flip.jpg", "astro_crop.jpg")
NO_FACE = "coffee.jpg"


def astronaut() -> Image.Image:
    return Image.fromarray(data.astronaut())


def write_face_photos(folder: Path) -> list[str]:
    """Three photos of her face and one without a face, as camera-like JPEGs."""
    folder.mkdir(parents=True, exist_ok=True)
    a = astronaut()
    a.save(folder / "astro.jpg", quality=92)
    a.transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(folder / "astro_flip.jpg", quality=92)
    darker = ImageEnhance.Brightness(a.crop((40, 20, 460, 480))).enhance(0.8)
    darker.save(folder / "astro_crop.jpg", quality=92)
    Image.fromarray(data.coffee()).save(folder / NO_FACE, quality=92)
    return [*FACE_PHOTOS, NO_FACE]


def write_new_face_photo(folder: Path, name: str = "astro_new.jpg") -> Path:
    """One more, different photo of her (rotated a little, on a wider canvas)."""
    canvas = Image.new("RGB", (700, 600), (90, 110, 130))
    canvas.paste(astronaut().rotate(6, fillcolor=(90, 110, 130)), (120, 40))
    path = folder / name
    canvas.save(path, quality=90)
    return path


def scanned_library(data: Path, bundle: Path) -> Path:
    """`data` with the photos indexed, People on and the face pass run (the real CLI)."""
    from edge_app.cli.main import main

    write_face_photos(data / "library")
    base = ["--data-dir", str(data), "--bundle", str(bundle)]
    assert main([*base, "index", "--json"]) == 0
    assert main([*base, "faces", "on"]) == 0
    assert main([*base, "faces", "run", "--json"]) == 0
    return data
