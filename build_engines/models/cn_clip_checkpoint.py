"""Official `cn_clip` checkpoints (`clip_cn_vit-b-16.pt` and the like) -> `ChineseCLIPModel`.

The Chinese-CLIP project trains with its own open_clip-style code; its `.pt` holds
`{"state_dict": {"module.visual...", "module.bert...", ...}}`. The architecture is read
from the tensor shapes, the weights are renamed into transformers' `ChineseCLIPModel`
(which the OFA-Sys hub checkpoints use), and the export path is then the Chinese-CLIP
one. Hand-written because transformers ships its conversion only as a repository
script, not in the wheel. ResNet (RN50) image towers are refused.

Image preprocessing is cn_clip's own: resize straight to S x S (bicubic), OpenAI mean/std.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import torch
from transformers import ChineseCLIPConfig, ChineseCLIPModel

from build_engines.errors import ModelLoadError
from build_engines.models.base import OPENAI_MEAN, OPENAI_STD, LoadedClip
from build_engines.models.chinese_clip import wrap
from engines.manifest import ImageSpec, ModelInfo

VISION_HEAD_WIDTH = 64  # cn_clip's ViTs use 64-wide heads
_BLOCK = re.compile(r"visual\.transformer\.resblocks\.(\d+)\.(.+)")
_BLOCK_NAMES = {
    "ln_1": "layer_norm1",
    "ln_2": "layer_norm2",
    "mlp.c_fc": "mlp.fc1",
    "mlp.c_proj": "mlp.fc2",
    "attn.out_proj": "self_attn.out_proj",
}


def is_cn_clip_checkpoint(path: Path) -> bool:
    return path.is_file() and path.suffix in (".pt", ".pth")


def read_state(path: Path) -> dict[str, torch.Tensor]:
    """The checkpoint's weights without the DDP `module.` prefix."""
    try:
        raw = torch.load(str(path), map_location="cpu", weights_only=True)
    except (OSError, RuntimeError, ValueError) as exc:
        raise ModelLoadError(f"cannot read the cn_clip checkpoint {path}: {exc}") from exc
    state = raw.get("state_dict", raw) if isinstance(raw, dict) else None
    if not isinstance(state, dict) or not any("bert." in k for k in state):
        raise ModelLoadError(f"{path} is not a cn_clip checkpoint (no bert.* weights)")
    return {k.removeprefix("module."): v for k, v in state.items()}


def config_from_state(state: dict[str, torch.Tensor]) -> ChineseCLIPConfig:
    """Widths, depths and sizes inferred from the tensors (no config file is shipped)."""
    if "visual.conv1.weight" not in state or "visual.proj" not in state:
        raise ModelLoadError("only ViT image towers are supported (this looks like RN50)")
    width, _, patch, _ = state["visual.conv1.weight"].shape
    grid = math.isqrt(state["visual.positional_embedding"].shape[0] - 1)
    vision_layers = 1 + max(int(m.group(1)) for k in state if (m := _BLOCK.match(k)))
    hidden = state["bert.embeddings.word_embeddings.weight"].shape[1]
    text_layers = 1 + max(
        int(k.split(".")[3]) for k in state if k.startswith("bert.encoder.layer.")
    )
    vision = {
        "image_size": grid * patch,
        "patch_size": patch,
        "hidden_size": width,
        "intermediate_size": state["visual.transformer.resblocks.0.mlp.c_fc.weight"].shape[0],
        "num_hidden_layers": vision_layers,
        "num_attention_heads": width // VISION_HEAD_WIDTH,
    }
    text = {
        "vocab_size": state["bert.embeddings.word_embeddings.weight"].shape[0],
        "hidden_size": hidden,
        "intermediate_size": state["bert.encoder.layer.0.intermediate.dense.weight"].shape[0],
        "num_hidden_layers": text_layers,
        "num_attention_heads": max(1, hidden // 64),
        "max_position_embeddings": state["bert.embeddings.position_embeddings.weight"].shape[0],
        "type_vocab_size": state["bert.embeddings.token_type_embeddings.weight"].shape[0],
    }
    embed = state["visual.proj"].shape[1]
    return ChineseCLIPConfig(text_config=text, vision_config=vision, projection_dim=embed)


def convert_state(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """cn_clip names -> transformers `ChineseCLIPModel` names."""
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        out.update(_rename(key, value))
    return out


def _rename(key: str, value: torch.Tensor) -> dict[str, torch.Tensor]:
    fixed = {
        "visual.conv1.weight": "vision_model.embeddings.patch_embedding.weight",
        "visual.class_embedding": "vision_model.embeddings.class_embedding",
        "visual.positional_embedding": "vision_model.embeddings.position_embedding.weight",
        "logit_scale": "logit_scale",
    }
    if key in fixed:
        return {fixed[key]: value}
    if key in ("visual.proj", "text_projection"):
        name = "visual_projection" if key == "visual.proj" else "text_projection"
        return {f"{name}.weight": value.T.contiguous()}
    for src, dst in (("visual.ln_pre.", "pre_layrnorm."), ("visual.ln_post.", "post_layernorm.")):
        if key.startswith(src):
            return {f"vision_model.{dst}{key.removeprefix(src)}": value}
    if key.startswith("bert.pooler."):
        return {}  # ChineseCLIPModel pools [CLS] itself and has no pooler layer
    if key.startswith("bert."):
        return {f"text_model.{key.removeprefix('bert.')}": value}
    match = _BLOCK.match(key)
    if match is None:
        raise ModelLoadError(f"unexpected cn_clip weight {key!r}: unsupported checkpoint")
    return _block(int(match.group(1)), match.group(2), value)


def _block(i: int, rest: str, value: torch.Tensor) -> dict[str, torch.Tensor]:
    prefix = f"vision_model.encoder.layers.{i}."
    if rest.startswith("attn.in_proj_"):
        kind = rest.removeprefix("attn.in_proj_")
        q, k, v = value.chunk(3, dim=0)
        return {
            f"{prefix}self_attn.{n}_proj.{kind}": t for n, t in zip("qkv", (q, k, v), strict=True)
        }
    for src, dst in _BLOCK_NAMES.items():
        if rest.startswith(src + "."):
            return {f"{prefix}{dst}.{rest.removeprefix(src + '.')}": value}
    raise ModelLoadError(f"unexpected cn_clip block weight {rest!r}: unsupported checkpoint")


def load_checkpoint(path: Path) -> LoadedClip:
    """A cn_clip `.pt` as a `LoadedClip` (tokenizer: the cn-clip wheel's vocab.txt)."""
    state = read_state(path)
    config = config_from_state(state)
    model = ChineseCLIPModel(config)
    converted: dict[str, Any] = convert_state(state)
    missing, unexpected = model.load_state_dict(converted, strict=False)
    missing = [m for m in missing if not m.endswith("position_ids")]
    if missing or unexpected:
        raise ModelLoadError(
            f"{path}: weights do not fit ChineseCLIPModel (missing {missing[:5]}, "
            f"unexpected {unexpected[:5]})"
        )
    vision: Any = config.vision_config
    side = int(vision.image_size)
    image = ImageSpec(side, OPENAI_MEAN, OPENAI_STD, resize="squash", interpolation="bicubic")
    info = ModelInfo(id=path.stem, source=f"cn_clip:{path}", family="cn_clip")
    return wrap(model, info, None, image=image)
