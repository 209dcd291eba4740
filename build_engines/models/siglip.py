"""SigLIP / SigLIP 2-style towers (transformers `SiglipModel`).

SigLIP's text tower has no attention mask and pools the *last* position, so it was trained
on texts padded to the full context: the bundle records `pad_to_context` and a fixed
sequence axis, and the runtime never trims padding. Its image processor resizes straight
to S x S (no crop), mean/std 0.5.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import torch
from transformers import SiglipConfig, SiglipModel

from build_engines.errors import ModelLoadError
from build_engines.models.base import ClipTowers, LoadedClip, l2_normalize
from build_engines.models.hf_image import image_spec_from_processor
from build_engines.models.text_tokenizers import (
    TokenizerSource,
    hf_tokenizer_source,
    train_unigram,
)
from engines.manifest import ImageSpec, ModelInfo
from engines.text_tokenizer import HF_TOKENIZER_NAME

RANDOM_SEED = 0


class SiglipTowers(ClipTowers):
    """Pooled (MAP head / last token + head) outputs, L2-normalised."""

    def __init__(self, model: SiglipModel) -> None:
        super().__init__()
        self.clip = model

    def image_embeds(self, pixel_values: torch.Tensor) -> torch.Tensor:
        return l2_normalize(self.clip.vision_model(pixel_values=pixel_values).pooler_output)

    def text_embeds(self, input_ids: torch.Tensor) -> torch.Tensor:
        return l2_normalize(self.clip.text_model(input_ids=input_ids).pooler_output)


def image_spec(path: Path | None, config: SiglipConfig) -> ImageSpec:
    from transformers.models.siglip.image_processing_pil_siglip import SiglipImageProcessorPil

    if path is not None and (path / "preprocessor_config.json").is_file():
        return image_spec_from_processor(SiglipImageProcessorPil.from_pretrained(str(path)))
    vision: Any = config.vision_config
    side = int(vision.image_size)
    return image_spec_from_processor(SiglipImageProcessorPil(size={"height": side, "width": side}))


def tokenizer_source(tokenizer_json: Path, pad_token: str = "</s>") -> TokenizerSource:
    """SentencePiece as `tokenizer.json`: no first special, `</s>` last, pad to the context."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(tokenizer_json))
    ids = tok.encode("").ids
    pad = tok.token_to_id(pad_token)
    if not ids or pad is None:
        raise ModelLoadError(
            f"{tokenizer_json}: expected an end-of-text token and pad token {pad_token!r}"
        )
    return hf_tokenizer_source(tokenizer_json, sot=-1, eot=ids[-1], pad=pad, pad_to_context=True)


def wrap(
    model: SiglipModel, info: ModelInfo, tokenizer: TokenizerSource, path: Path | None = None
) -> LoadedClip:
    model = model.float().eval()
    config: Any = model.config
    return LoadedClip(
        model=SiglipTowers(model).eval(),
        info=info,
        image=image_spec(path, config),
        context_length=int(config.text_config.max_position_embeddings),
        embedding_dim=int(config.vision_config.hidden_size),
        tokenizer=tokenizer,
    )


def load_dir(path: Path) -> LoadedClip:
    """A `SiglipModel.save_pretrained` directory with its `tokenizer.json`."""
    if not (path / HF_TOKENIZER_NAME).is_file():
        raise ModelLoadError(
            f"{path} has no {HF_TOKENIZER_NAME}: save it with "
            "AutoTokenizer.from_pretrained(ID).save_pretrained(DIR) (the fast tokenizer)"
        )
    try:
        model = SiglipModel.from_pretrained(str(path), local_files_only=True)
    except (OSError, ValueError, KeyError) as exc:
        raise ModelLoadError(f"could not load SigLIP from {path}: {exc}") from exc
    pad = _pad_token(path)
    info = ModelInfo(id=path.name, source=f"hf:{path}", family="hf-siglip")
    return wrap(model, info, tokenizer_source(path / HF_TOKENIZER_NAME, pad), path)


def _pad_token(path: Path) -> str:
    cfg = path / "tokenizer_config.json"
    if cfg.is_file():
        pad = json.loads(cfg.read_text("utf-8")).get("pad_token", "</s>")
        return str(pad.get("content") if isinstance(pad, dict) else pad)
    return "</s>"


def is_siglip_dir(path: Path) -> bool:
    config = path / "config.json"
    if not config.is_file():
        return False
    return json.loads(config.read_text("utf-8")).get("model_type") in ("siglip", "siglip2")


def small_config(width: int = 32, image_size: int = 32, vocab_size: int = 512) -> SiglipConfig:
    """A seconds-to-export config of the same classes (tests)."""
    common = {
        "hidden_size": width,
        "intermediate_size": 2 * width,
        "num_hidden_layers": 1,
        "num_attention_heads": 2,
    }
    text = {**common, "vocab_size": vocab_size, "max_position_embeddings": 16}
    vision = {**common, "image_size": image_size, "patch_size": 16}
    return SiglipConfig(text_config=text, vision_config=vision)


def seeded(config: SiglipConfig, seed: int = RANDOM_SEED) -> SiglipModel:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return SiglipModel(config).eval()


def load_random() -> LoadedClip:
    """`siglip-base-random`: google/siglip-base-patch16-224 geometry, random weights.

    No SigLIP SentencePiece vocabulary ships in any installable package, so the bundle
    carries a small Unigram tokenizer trained at build time (same kind, same runtime path).
    """
    model_id = "siglip-base-random"
    note = "SigLIP base/16 architecture, random weights, locally trained Unigram tokenizer"
    info = ModelInfo(id=model_id, source=f"builtin:{model_id}", family="builtin", note=note)
    work = Path(tempfile.mkdtemp(prefix="edge-build-tokenizer-"))
    tokenizer = tokenizer_source(train_unigram(work / HF_TOKENIZER_NAME, vocab_size=2000))
    return wrap(seeded(SiglipConfig()), info, tokenizer)
