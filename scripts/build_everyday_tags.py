#!/usr/bin/env python3
"""Build edge_app/tags/data/everyday.json: the built-in "everyday" label set.

Source: the ImageNet class names and the simple prompt templates shipped in
open-clip-torch's ``open_clip/zero_shot_metadata.py`` (MIT licence, Copyright (c)
2012-2021 Gabriel Ilharco, Mitchell Wortsman, Nicholas Carlini, Rohan Taori, Achal Dave,
Vaishaal Shankar, John Miller, Hongseok Namkoong, Hannaneh Hajishirzi, Ali Farhadi,
Ludwig Schmidt). The file is read as plain Python WITHOUT importing open_clip (which
would import torch), so this runs wherever open-clip-torch is installed (the `build`
extra). Near-synonym classes are merged into the tags people use ("dog" = the 118 dog
breeds, pooled with "any": a photo is a dog if it looks like any breed); common tags
ImageNet lacks (night, document, food...) are added with their own prompts.

Each class becomes one prompt-ensemble row (its templates joined by " || ", averaged at
run time); a tag of several classes is pooled with "any" (its best class row counts).

Run: python scripts/build_everyday_tags.py  (re-run only when this script changes).
"""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parents[1] / "edge_app" / "tags" / "data" / "everyday.json"
LICENCE = (
    "ImageNet class names and prompt templates from open-clip-torch "
    "open_clip/zero_shot_metadata.py, MIT licence, Copyright (c) 2012-2021 Gabriel Ilharco, "
    "Mitchell Wortsman, Nicholas Carlini, Rohan Taori, Achal Dave, Vaishaal Shankar, John "
    "Miller, Hongseok Namkoong, Hannaneh Hajishirzi, Ali Farhadi, Ludwig Schmidt"
)

# tag -> ImageNet class indices merged into it (checked against the names at build time)
GROUPS: dict[str, list[int]] = {
    "fish": [0, 1, 5, 6, *range(389, 398)],
    "shark": [2, 3, 4],
    "chicken": [7, 8],
    "bird": [*range(9, 25), *range(80, 97), *range(127, 147)],
    "duck": [97, 98],
    "goose": [99, 100],
    "salamander": [25, 26, 27, 28, 29],
    "frog": [30, 31, 32],
    "turtle": [33, 34, 35, 36, 37],
    "lizard": [*range(38, 49)],
    "crocodile": [49, 50],
    "snake": [*range(52, 69)],
    "spider": [*range(72, 78)],
    "crab": [118, 119, 120, 121, 125],
    "lobster": [122, 123, 124],
    "whale": [147, 148],
    "dog": [*range(151, 269)],
    "wolf": [269, 270, 271, 272, 273, 274, 275],
    "fox": [277, 278, 279, 280],
    "cat": [281, 282, 283, 284, 285],
    "bear": [294, 295, 296, 297],
    "beetle": [300, 302, 303, 304, 305, 306, 307],
    "butterfly": [*range(321, 327)],
    "rabbit": [330, 331, 332],
    "pig": [341, 342, 343],
    "cow": [345, 346, 347],
    "sheep": [348, 349],
    "antelope": [351, 352, 353],
    "ape": [365, 366, 367, 368, 369],
    "monkey": [*range(370, 383)],
    "lemur": [383, 384],
    "elephant": [101, 385, 386],
    "car": [436, 468, 511, 609, 627, 656, 661, 751, 817],
    "truck": [555, 569, 675, 717, 734, 864, 867],
    "bus": [654, 779, 874],
    "boat": [472, 484, 554, 576, 625, 693, 814, 871, 914],
    "ship": [403, 510, 628, 724, 780, 913],
    "bicycle": [444, 671],
    "scooter": [665, 670],
    "airplane": [404, 895, 908],
    "train": [466, 547, 565, 705, 820, 829],
    "guitar": [402, 546],
    "clock": [409, 530, 892],
    "computer": [527, 590, 620, 681],
    "bridge": [821, 839, 888],
    "mushroom": [947, 991, 992, 993, 994, 995, 996, 997],
    "squash": [939, 940, 941, 942],
    "beach": [977, 978],
    "lake": [975],
}
RENAME = {"common sorrel horse": "horse", "ram": "sheep", "arabian camel": "camel"}
# Tags ImageNet lacks; their prompts are literal (no templates).
EXTRAS: dict[str, list[str]] = {
    "night": ["a photo taken at night.", "a city at night.", "a night sky.", "a dark night scene."],
    "sunset": ["a photo of a sunset.", "a sunrise over the horizon.", "an orange evening sky."],
    "snow": ["a snowy landscape.", "a photo of snow.", "people playing in the snow."],
    "document": ["a scanned document.", "a photo of a printed page of text.", "a letter on paper."],
    "receipt": ["a photo of a shop receipt.", "a printed till receipt."],
    "screenshot": ["a screenshot of a phone screen.", "a screenshot of a computer screen."],
    "food": ["a photo of food on a plate.", "a dish of food.", "a meal on a table."],
    "drink": ["a photo of a drink.", "a glass of a beverage."],
    "people": ["a photo of people.", "a group of people.", "a crowd of people."],
    "portrait": ["a portrait photo of a person.", "a close-up photo of a face."],
    "selfie": ["a selfie.", "a person taking a selfie with a phone."],
    "baby": ["a photo of a baby.", "a newborn baby."],
    "child": ["a photo of a child.", "kids playing."],
    "wedding": ["a wedding photo.", "a bride and groom at a wedding."],
    "birthday": ["a birthday party.", "a birthday cake with candles."],
    "city": ["a photo of a city.", "a city skyline.", "buildings in a city street."],
    "street": ["a photo of a street.", "a road with cars."],
    "forest": ["a photo of a forest.", "trees in a forest."],
    "garden": ["a photo of a garden.", "flowers and plants in a garden."],
    "flower": ["a photo of a flower.", "flowers in bloom."],
    "tree": ["a photo of a tree.", "a big tree."],
    "sky": ["a photo of the sky.", "clouds in a blue sky."],
    "sea": ["a photo of the sea.", "ocean waves."],
    "river": ["a photo of a river.", "a stream flowing through the landscape."],
    "landscape": ["a landscape photo.", "a scenic view of nature."],
    "indoor": ["a photo taken indoors.", "the inside of a room."],
    "kitchen": ["a photo of a kitchen."],
    "car interior": ["the inside of a car.", "a car dashboard."],
    "sports": ["people playing sports.", "a sports game."],
    "concert": ["a photo of a concert.", "a band playing on stage."],
    "text": ["a photo with a lot of text.", "a sign with writing."],
    "drawing": ["a drawing.", "a child's drawing.", "a sketch on paper."],
    "meme": ["an internet meme with text.", "a funny image with a caption."],
    "blurry": ["a blurry photo.", "an out of focus photo."],
}


def load_metadata() -> dict[str, Any]:
    """The metadata module's globals, read without importing open_clip (and torch)."""
    spec = importlib.util.find_spec("open_clip")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("open-clip-torch is not installed: pip install -e .[build]")
    path = Path(next(iter(spec.submodule_search_locations))) / "zero_shot_metadata.py"
    namespace: dict[str, Any] = {}
    exec(compile(path.read_text("utf-8"), str(path), "exec"), namespace)  # noqa: S102
    return namespace


def readable(name: str) -> str:
    """'kite (bird of prey)' -> 'kite', 'baluster / handrail' -> 'baluster', lower case."""
    clean = re.sub(r"\s*\(.*?\)", "", name).split(" / ")[0].split(" or ")[0].strip()
    return RENAME.get(clean.lower(), clean.lower())


def build() -> dict[str, Any]:
    meta = load_metadata()
    classes: tuple[str, ...] = meta["IMAGENET_CLASSNAMES"]
    templates = [t("{}") for t in meta["SIMPLE_IMAGENET_TEMPLATES"]]
    grouped = {i for ids in GROUPS.values() for i in ids}
    labels: dict[str, dict[str, Any]] = {}
    for tag, ids in GROUPS.items():
        labels[tag] = {"name": tag, "classes": [classes[i] for i in ids]}
    for i, name in enumerate(classes):
        if i in grouped:
            continue
        tag = readable(name)
        labels.setdefault(tag, {"name": tag, "classes": []})["classes"].append(name)
    for tag, prompts in EXTRAS.items():
        labels.setdefault(tag, {"name": tag, "classes": []})["prompts"] = prompts
    return {
        "name": "everyday",
        "description": "Everyday things: ImageNet classes merged into common tags, plus "
        "scenes and photo types (night, document, food...).",
        "licence": LICENCE,
        "generator": "scripts/build_everyday_tags.py",
        "templates": templates,
        "labels": sorted(labels.values(), key=lambda item: item["name"]),
    }


def main() -> None:
    data = build()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", "utf-8")
    print(f"wrote {OUT}: {len(data['labels'])} tags")


if __name__ == "__main__":
    main()
