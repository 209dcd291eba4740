"""Chinese-CLIP (transformers `ChineseCLIPModel`): BERT text tower + ViT image tower.

The text tower pools the `[CLS]` position and masks padding with an attention mask built
*inside the graph* from `input_ids != pad`, so the exported ONNX takes only `input_ids`
like every other bundle and the runtime may drop trailing padding exactly. The tokenizer
is the checkpoint's own (`tokenizer.json`, or `vocab.txt` turned into one), shipped in the
bundle as kind `hf_tokenizers`.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import torch
from transformers import ChineseCLIPConfig, ChineseCLIPModel

from build_engines.errors import ModelLoadError
from build_engines.models.base import ClipTowers, LoadedClip, l2_normalize
from build_engines.models.hf_image import image_spec_from_processor
from build_engines.models.text_tokenizers import (
    TokenizerSource,
    bert_source,
    cn_clip_vocab,
    hf_tokenizer_source,
)
from engines.manifest import ImageSpec, ModelInfo
from engines.text_tokenizer import HF_TOKENIZER_NAME

CN_CLIP_CONTEXT = 52  # the context Chinese-CLIP was trained with (cn_clip's default)
CN_VOCAB_SIZE = 21128
RANDOM_SEED = 0


class ChineseClipTowers(ClipTowers):
    """Projections of the ViT pooler output and the BERT [CLS] state."""

    def __init__(self, model: ChineseCLIPModel, pad_token: int) -> None:
        super().__init__()
        self.clip = model
        self.pad_token = pad_token

    def image_embeds(self, pixel_values: torch.Tensor) -> torch.Tensor:
        pooled = self.clip.vision_model(pixel_values=pixel_values).pooler_output
        return l2_normalize(self.clip.visual_projection(pooled))

    def text_embeds(self, input_ids: torch.Tensor) -> torch.Tensor:
        mask = (input_ids != self.pad_token).to(torch.int64)
        hidden = self.clip.text_model(
            input_ids=input_ids,
            attention_mask=mask,
            token_type_ids=torch.zeros_like(input_ids),
        ).last_hidden_state
        return l2_normalize(self.clip.text_projection(hidden[:, 0, :]))


def image_spec(path: Path | None, config: ChineseCLIPConfig) -> ImageSpec:
    """The checkpoint's preprocessor_config.json, or the processor's defaults at its size."""
    from transformers.models.chinese_clip.image_processing_pil_chinese_clip import (
        ChineseCLIPImageProcessorPil,
    )

    if path is not None and (path / "preprocessor_config.json").is_file():
        return image_spec_from_processor(ChineseCLIPImageProcessorPil.from_pretrained(str(path)))
    vision: Any = config.vision_config
    side = int(vision.image_size)
    size = {"shortest_edge": side}
    return image_spec_from_processor(
        ChineseCLIPImageProcessorPil(size=size, crop_size={"height": side, "width": side})
    )


def tokenizer_source(path: Path | None, config: ChineseCLIPConfig) -> TokenizerSource:
    """`tokenizer.json` if the checkpoint has one, else its `vocab.txt` (cn_clip's for None)."""
    text: Any = config.text_config
    pad = int(text.pad_token_id or 0)
    if path is not None and (path / HF_TOKENIZER_NAME).is_file():
        return hf_tokenizer_source(path / HF_TOKENIZER_NAME, sot=101, eot=102, pad=pad)
    vocab = path / "vocab.txt" if path is not None else cn_clip_vocab()
    if not vocab.is_file():
        raise ModelLoadError(f"{path} has neither {HF_TOKENIZER_NAME} nor vocab.txt")
    return bert_source(vocab, Path(tempfile.mkdtemp(prefix="edge-build-tokenizer-")))


def wrap(
    model: ChineseCLIPModel, info: ModelInfo, path: Path | None, image: ImageSpec | None = None
) -> LoadedClip:
    """A `LoadedClip` of a ChineseCLIPModel (eval, fp32, CPU)."""
    model = model.float().eval()
    config: Any = model.config
    tokenizer = tokenizer_source(path, config)
    context = min(CN_CLIP_CONTEXT, int(config.text_config.max_position_embeddings))
    return LoadedClip(
        model=ChineseClipTowers(model, tokenizer.pad).eval(),
        info=info,
        image=image or image_spec(path, config),
        context_length=context,
        embedding_dim=int(config.projection_dim),
        tokenizer=tokenizer,
    )


def load_dir(path: Path) -> LoadedClip:
    """A `ChineseCLIPModel.save_pretrained` directory (OFA-Sys/chinese-clip-* layout)."""
    try:
        model = ChineseCLIPModel.from_pretrained(str(path), local_files_only=True)
    except (OSError, ValueError, KeyError) as exc:
        raise ModelLoadError(f"could not load Chinese-CLIP from {path}: {exc}") from exc
    info = ModelInfo(id=path.name, source=f"hf:{path}", family="hf-chinese-clip")
    return wrap(model, info, path)


def is_chinese_clip_dir(path: Path) -> bool:
    config = path / "config.json"
    if not config.is_file():
        return False
    return json.loads(config.read_text("utf-8")).get("model_type") == "chinese_clip"


def vit_b_16_config(vocab_size: int = CN_VOCAB_SIZE) -> ChineseCLIPConfig:
    """OFA-Sys/chinese-clip-vit-base-patch16's shapes: RoBERTa-wwm-base text, ViT-B/16."""
    text = {"vocab_size": vocab_size, "max_position_embeddings": 512, "type_vocab_size": 2}
    vision = {"image_size": 224, "patch_size": 16}
    return ChineseCLIPConfig(text_config=text, vision_config=vision, projection_dim=512)


def small_config(width: int = 32, image_size: int = 32) -> ChineseCLIPConfig:
    """A seconds-to-export config of the same classes (tests)."""
    text = {
        "vocab_size": CN_VOCAB_SIZE,
        "hidden_size": width,
        "intermediate_size": 2 * width,
        "num_hidden_layers": 1,
        "num_attention_heads": 2,
        "max_position_embeddings": CN_CLIP_CONTEXT,
    }
    vision = {
        "image_size": image_size,
        "patch_size": 16,
        "hidden_size": width,
        "intermediate_size": 2 * width,
        "num_hidden_layers": 1,
        "num_attention_heads": 2,
    }
    return ChineseCLIPConfig(text_config=text, vision_config=vision, projection_dim=width)


def seeded(config: ChineseCLIPConfig, seed: int = RANDOM_SEED) -> ChineseCLIPModel:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return ChineseCLIPModel(config).eval()


def load_random() -> LoadedClip:
    """`chinese-clip-vit-b-16-random`: real geometry, random weights, cn_clip's vocabulary."""
    model_id = "chinese-clip-vit-b-16-random"
    note = "Chinese-CLIP ViT-B/16 architecture with random weights: for speed benchmarks only"
    info = ModelInfo(id=model_id, source=f"builtin:{model_id}", family="builtin", note=note)
    return wrap(seeded(vit_b_16_config()), info, None)
