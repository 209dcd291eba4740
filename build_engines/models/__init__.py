"""Model sources: every spec string resolves to a `LoadedClip`.

Specs: a built-in (`BUILTINS`), a local directory (transformers CLIP, Chinese-CLIP or
SigLIP, or an open_clip checkpoint), an official cn_clip `.pt` checkpoint, `open_clip:NAME:PRETRAINED`, or a Hugging Face id (needs network
or a populated HF cache).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from build_engines.errors import ModelLoadError
from build_engines.models.base import LoadedClip

BUILTINS = (
    "tiny",
    "toy-shapes",
    "toy-shapes-bilingual",
    "vit-b-32-random",
    "chinese-clip-vit-b-16-random",
    "siglip-base-random",
    "mobileclip-random",
)

__all__ = ["BUILTINS", "LoadedClip", "load_model"]


def load_model(spec: str) -> LoadedClip:
    """Resolve `spec` (see module docstring); ModelLoadError says what to do instead."""
    if spec in BUILTINS:
        return _builtin(spec)()
    if spec.startswith("open_clip:"):
        return _open_clip_spec(spec)
    path = Path(spec).expanduser()
    if path.is_dir():
        return _local_dir(path)
    if path.suffix in (".pt", ".pth") and path.is_file():
        from build_engines.models.cn_clip_checkpoint import load_checkpoint

        return load_checkpoint(path)
    if path.exists() or spec.startswith((".", "/", "~")):
        raise ModelLoadError(f"{spec} is not a model directory: pass a folder with config.json")
    return _hub_id(spec)


def _builtin(spec: str) -> Callable[[], LoadedClip]:
    """Lazy imports: toy-shapes loads a checkpoint, the others build transformers configs."""
    if spec == "tiny":
        from build_engines.models import tiny

        return tiny.load
    if spec == "vit-b-32-random":
        from build_engines.models import random_arch

        return random_arch.load
    if spec == "chinese-clip-vit-b-16-random":
        from build_engines.models import chinese_clip

        return chinese_clip.load_random
    if spec == "siglip-base-random":
        from build_engines.models import siglip

        return siglip.load_random
    if spec == "mobileclip-random":
        from build_engines.models.open_clip_loader import load_mobileclip_random

        return load_mobileclip_random
    if spec == "toy-shapes-bilingual":
        from build_engines.models.toy_bilingual import load as load_bilingual

        return load_bilingual
    from build_engines.models import toy_shapes

    return toy_shapes.load


def _open_clip_spec(spec: str) -> LoadedClip:
    from build_engines.models.open_clip_loader import load_open_clip

    parts = spec.split(":", 2)
    if len(parts) != 3 or not parts[1] or not parts[2]:
        raise ModelLoadError(
            f"{spec!r}: expected open_clip:NAME:PRETRAINED (e.g. open_clip:ViT-B-32:openai)"
        )
    return load_open_clip(parts[1], parts[2])


def _local_dir(path: Path) -> LoadedClip:
    """transformers CLIP (config.json with a CLIP model_type) or open_clip hub layout."""
    from build_engines.models import chinese_clip, siglip
    from build_engines.models.open_clip_loader import is_open_clip_dir, load_open_clip

    if is_open_clip_dir(path):
        return load_open_clip(f"local-dir:{path}", None)
    if chinese_clip.is_chinese_clip_dir(path):
        return chinese_clip.load_dir(path)
    if siglip.is_siglip_dir(path):
        return siglip.load_dir(path)
    config = path / "config.json"
    if not config.is_file():
        raise ModelLoadError(
            f"{path} has neither config.json (transformers CLIP) nor open_clip_config.json: "
            "save the model with CLIPModel.save_pretrained(dir) first"
        )
    model_type = json.loads(config.read_text(encoding="utf-8")).get("model_type")
    if model_type != "clip":
        raise ModelLoadError(
            f"{config} has model_type={model_type!r}: supported are 'clip', 'chinese_clip', "
            "'siglip' (and open_clip directories)"
        )
    return _hf(str(path), path.name, local_only=True)


def _hub_id(spec: str) -> LoadedClip:
    """A hub id: the HF cache first (works offline), then the network."""
    try:
        return _hf(spec, spec, local_only=True)
    except ModelLoadError as cached_error:
        try:
            return _hf(spec, spec, local_only=False)
        except ModelLoadError as exc:
            raise ModelLoadError(
                f"{spec!r} is not a built-in ({', '.join(BUILTINS)}), a local directory, "
                f"nor in the Hugging Face cache, and downloading it failed ({exc}). "
                "On an offline host: download it elsewhere with "
                f"`CLIPModel.from_pretrained({spec!r}).save_pretrained(DIR)` and pass --model DIR"
            ) from cached_error


def _hf(path_or_id: str, model_id: str, local_only: bool) -> LoadedClip:
    from build_engines.models.hf_clip import load_hf_clip

    try:
        return load_hf_clip(path_or_id, model_id, local_only=local_only)
    except (OSError, ValueError, KeyError) as exc:
        where = "offline (local files only)" if local_only else "from the hub"
        raise ModelLoadError(f"could not load CLIP {path_or_id!r} {where}: {exc}") from exc
