"""Wrap a transformers `CLIPModel` as `ClipTowers` (HF pooling, norm inside forward)."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from transformers import CLIPConfig, CLIPModel

from build_engines.models.base import OPENAI_MEAN, OPENAI_STD, ClipTowers, LoadedClip, l2_normalize
from engines.manifest import ImageSpec, ModelInfo


class HFClipTowers(ClipTowers):
    """Projections of the pooled outputs; text pools at EOT exactly as transformers does."""

    def __init__(self, clip: CLIPModel) -> None:
        super().__init__()
        self.clip = clip

    def image_embeds(self, pixel_values: torch.Tensor) -> torch.Tensor:
        pooled = self.clip.vision_model(pixel_values=pixel_values).pooler_output
        return l2_normalize(self.clip.visual_projection(pooled))

    def text_embeds(self, input_ids: torch.Tensor) -> torch.Tensor:
        pooled = self.clip.text_model(input_ids=input_ids).pooler_output
        return l2_normalize(self.clip.text_projection(pooled))


def wrap_hf_clip(
    model: CLIPModel, info: ModelInfo, image: ImageSpec, context_length: int
) -> LoadedClip:
    """The `LoadedClip` of a transformers CLIP, in eval mode on CPU fp32."""
    model = model.float().eval()
    return LoadedClip(
        model=HFClipTowers(model).eval(),
        info=info,
        image=image,
        context_length=context_length,
        embedding_dim=int(model.config.projection_dim),  # type: ignore[arg-type]
    )


def image_spec_from_dir(path: Path, size: int) -> ImageSpec:
    """Read mean/std/size from preprocessor_config.json; OpenAI CLIP defaults otherwise."""
    cfg_path = path / "preprocessor_config.json"
    if not cfg_path.is_file():
        return ImageSpec(size=size, mean=OPENAI_MEAN, std=OPENAI_STD)
    cfg = json.loads(cfg_path.read_text(encoding="utf-8"))
    crop = cfg.get("crop_size", size)
    side = int(crop["height"] if isinstance(crop, dict) else crop)
    mean = tuple(float(x) for x in cfg.get("image_mean", OPENAI_MEAN))
    std = tuple(float(x) for x in cfg.get("image_std", OPENAI_STD))
    return ImageSpec(size=side, mean=mean, std=std)  # type: ignore[arg-type]


def load_hf_clip(path_or_id: str, model_id: str, local_only: bool) -> LoadedClip:
    """Load a CLIPModel from a directory or hub id (the caller maps errors to ModelLoadError)."""
    model = CLIPModel.from_pretrained(path_or_id, local_files_only=local_only)
    config: CLIPConfig = model.config
    size = int(config.vision_config.image_size)  # type: ignore[union-attr,arg-type]
    local = Path(path_or_id)
    image = (
        image_spec_from_dir(local, size)
        if local.is_dir()
        else _image_spec_from_hub(path_or_id, size)
    )
    info = ModelInfo(id=model_id, source=f"hf:{path_or_id}", family="hf-clip")
    context = int(config.text_config.max_position_embeddings)  # type: ignore[union-attr]
    return wrap_hf_clip(model, info, image, context)


def _image_spec_from_hub(model_id: str, size: int) -> ImageSpec:
    """preprocessor_config.json from the HF cache, if it was downloaded with the weights."""
    from huggingface_hub import try_to_load_from_cache

    cached = try_to_load_from_cache(model_id, "preprocessor_config.json")
    if isinstance(cached, str):
        return image_spec_from_dir(Path(cached).parent, size)
    return ImageSpec(size=size, mean=OPENAI_MEAN, std=OPENAI_STD)
