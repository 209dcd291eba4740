"""`tiny`: a seeded random CLIP with the real tokenizer geometry, built in about a second.

It exercises every code path (vocab 49408, context 77, EOT pooling) without weights, so
tests and CI can build bundles offline. Its embeddings mean nothing.
"""

from __future__ import annotations

import torch
from transformers import CLIPConfig, CLIPModel

from build_engines.models.base import (
    DEFAULT_CONTEXT,
    OPENAI_MEAN,
    OPENAI_STD,
    VOCAB_SIZE,
    LoadedClip,
)
from build_engines.models.hf_clip import wrap_hf_clip
from engines.manifest import ImageSpec, ModelInfo

TINY_SEED = 0
TEXT_TOKENS = {"bos_token_id": 49406, "eos_token_id": 49407, "pad_token_id": 0}


def tiny_config() -> CLIPConfig:
    """Two layers per tower, width 64, 64 px images in 16 px patches."""
    text = {
        "vocab_size": VOCAB_SIZE,
        "max_position_embeddings": DEFAULT_CONTEXT,
        "hidden_size": 64,
        "intermediate_size": 128,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        **TEXT_TOKENS,
    }
    vision = {
        "image_size": 64,
        "patch_size": 16,
        "hidden_size": 64,
        "intermediate_size": 128,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
    }
    return CLIPConfig(text_config=text, vision_config=vision, projection_dim=64)


def seeded_model(config: CLIPConfig, seed: int) -> CLIPModel:
    """Random init that is identical on every run, without touching the global RNG."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = CLIPModel(config)
    return model.eval()


def build_tiny_model(seed: int = TINY_SEED) -> CLIPModel:
    """The raw transformers model (also what tests save with save_pretrained)."""
    return seeded_model(tiny_config(), seed)


def builtin_clip(model: CLIPModel, model_id: str, image_size: int, note: str) -> LoadedClip:
    """A built-in random CLIP as a `LoadedClip`: OpenAI normalisation, default context."""
    info = ModelInfo(id=model_id, source=f"builtin:{model_id}", family="builtin", note=note)
    image = ImageSpec(size=image_size, mean=OPENAI_MEAN, std=OPENAI_STD)
    return wrap_hf_clip(model, info, image, DEFAULT_CONTEXT)


def load(seed: int = TINY_SEED) -> LoadedClip:
    """The `tiny` model spec."""
    note = "seeded random weights: for plumbing tests only, embeddings mean nothing"
    return builtin_clip(build_tiny_model(seed), "tiny", 64, note)
