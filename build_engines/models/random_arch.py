"""`vit-b-32-random`: real ViT-B/32 CLIP geometry with random weights, for speed benchmarks.

Latency and memory depend on the architecture, not the weights, so this benchmarks the
appliance offline without any download.
"""

from __future__ import annotations

from transformers import CLIPConfig

from build_engines.models.base import DEFAULT_CONTEXT, LoadedClip
from build_engines.models.tiny import TEXT_TOKENS, builtin_clip, seeded_model

VIT_B_32_SEED = 0


def vit_b_32_config() -> CLIPConfig:
    """openai/clip-vit-base-patch32's shapes (transformers' CLIPConfig defaults)."""
    text = {"max_position_embeddings": DEFAULT_CONTEXT, **TEXT_TOKENS}
    vision = {"image_size": 224, "patch_size": 32}
    return CLIPConfig(text_config=text, vision_config=vision, projection_dim=512)


def load(seed: int = VIT_B_32_SEED) -> LoadedClip:
    """The `vit-b-32-random` model spec."""
    note = "ViT-B/32 architecture with random weights: for speed benchmarks only"
    return builtin_clip(seeded_model(vit_b_32_config(), seed), "vit-b-32-random", 224, note)
