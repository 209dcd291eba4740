"""open_clip checkpoints (`open_clip:NAME:PRETRAINED` or a local dir with open_clip_config.json).

open_clip is imported lazily: it imports torchvision (and MobileCLIP's image towers need
timm), which only this model source uses, so a missing or mismatched install (a torchvision
built for another torch) fails only here, with the install hint.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType
from typing import Any

import torch

from build_engines.errors import ModelLoadError
from build_engines.models.base import OPENAI_MEAN, OPENAI_STD, ClipTowers, LoadedClip, l2_normalize
from build_engines.models.text_tokenizers import TokenizerSource
from engines.manifest import ImageSpec, ModelInfo, TokenizerSpec

INSTALL_HINT = "pip install open-clip-torch timm torchvision (matching your torch version)"
MOBILECLIP_RANDOM = "MobileCLIP-S1"  # the smallest MobileCLIP config in open_clip with CLIP BPE
OPEN_CLIP_CONFIG = "open_clip_config.json"
RANDOM_SEED = 0


def import_open_clip() -> ModuleType:
    """`open_clip`, or ModelLoadError saying how to install it."""
    try:
        import open_clip
    except (ImportError, RuntimeError) as exc:  # RuntimeError: torchvision built for another torch
        raise ModelLoadError(f"open_clip models need open_clip ({exc}): {INSTALL_HINT}") from exc
    return open_clip


class OpenClipTowers(ClipTowers):
    """encode_image / encode_text (open_clip pools text at the argmax token = EOT)."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.clip = model

    def image_embeds(self, pixel_values: torch.Tensor) -> torch.Tensor:
        return l2_normalize(self.clip.encode_image(pixel_values))  # type: ignore[operator]

    def text_embeds(self, input_ids: torch.Tensor) -> torch.Tensor:
        return l2_normalize(self.clip.encode_text(input_ids))  # type: ignore[operator]


def is_open_clip_dir(path: Path) -> bool:
    """A directory in open_clip's hub layout (config + weights side by side)."""
    return (path / OPEN_CLIP_CONFIG).is_file()


def load_open_clip(name: str, pretrained: str | None, seed: int | None = None) -> LoadedClip:
    """`open_clip.create_model(name, pretrained)`; `name` may be `local-dir:/path`.

    `seed` fixes random initialisation (random-weight builds must be the same model each
    time they are loaded, or `edge-build verify --model` and `edge-bench` compare noise).
    """
    open_clip = import_open_clip()
    _require_clip_tokenizer(open_clip, name)
    try:
        with torch.random.fork_rng(devices=[]):
            if seed is not None:
                torch.manual_seed(seed)
            model = open_clip.create_model(name, pretrained=pretrained, device="cpu")
    except (OSError, RuntimeError, ValueError) as exc:
        raise ModelLoadError(
            f"open_clip could not create {name!r} with pretrained={pretrained!r} ({exc}): "
            "check the name with open_clip.list_pretrained() and that the weights are "
            "downloaded (this appliance builder works offline)"
        ) from exc
    model = model.float().eval()
    source = f"open_clip:{name}:{pretrained or ''}"
    info = ModelInfo(id=_model_id(name, pretrained), source=source, family="open_clip")
    return LoadedClip(
        model=OpenClipTowers(model).eval(),
        info=info,
        image=_image_spec(model),
        context_length=int(getattr(model, "context_length", 77)),
        embedding_dim=_embedding_dim(model),
        tokenizer=TokenizerSource(spec=TokenizerSpec(pad_to_context=not _text_is_causal(model))),
    )


def _text_is_causal(model: torch.nn.Module) -> bool:
    """Causal text attention makes trailing padding invisible at EOT (so it may be trimmed).

    MobileCLIP's text tower (`no_causal_mask`) attends to the padding: it must always see
    the full context, like it was trained.
    """
    text = getattr(model, "text", model)
    return getattr(text, "attn_mask", None) is not None


def load_mobileclip_random() -> LoadedClip:
    """`mobileclip-random`: open_clip's MobileCLIP-S1 geometry (timm FastViT), random weights."""
    from dataclasses import replace

    loaded = load_open_clip(MOBILECLIP_RANDOM, None, seed=RANDOM_SEED)
    note = "MobileCLIP-S1 architecture with random weights: for speed benchmarks only"
    model_id = "mobileclip-random"
    loaded.info = replace(
        loaded.info, id=model_id, source=f"builtin:{model_id}", family="builtin", note=note
    )
    return loaded


def save_small_mobileclip(path: Path, seed: int = RANDOM_SEED) -> Path:
    """A seconds-to-export MobileCLIP of the same classes (tests), in open_clip's local-dir
    layout: timm FastViT MCi0 image tower at 64 px, a 2-layer bidirectional text tower
    (`no_causal_mask`) on CLIP's BPE vocabulary, and MobileCLIP's own preprocessing (mean 0,
    std 1, bilinear). Load it with `--model DIR` like a downloaded open_clip checkpoint."""
    open_clip = import_open_clip()
    cfg = open_clip.get_model_config(MOBILECLIP_RANDOM)
    cfg["embed_dim"] = 64
    cfg["vision_cfg"].update(timm_model_name="fastvit_mci0", image_size=64)
    cfg["text_cfg"].update(width=64, heads=2, layers=2)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        parts = {k: cfg[k] for k in ("embed_dim", "vision_cfg", "text_cfg")}
        model = open_clip.create_model(MOBILECLIP_RANDOM, device="cpu", **parts)
    preprocess = {"mean": [0.0] * 3, "std": [1.0] * 3, "interpolation": "bilinear"}
    path.mkdir(parents=True, exist_ok=True)
    config = {"model_cfg": cfg, "preprocess_cfg": {**preprocess, "resize_mode": "shortest"}}
    (path / OPEN_CLIP_CONFIG).write_text(json.dumps(config), encoding="utf-8")
    torch.save(model.state_dict(), path / "open_clip_pytorch_model.bin")
    return path


def _require_clip_tokenizer(open_clip: ModuleType, name: str) -> None:
    """The runtime only ships CLIP's BPE tokenizer: refuse models that need another."""
    tokenizer = open_clip.get_tokenizer(name)
    if type(tokenizer).__name__ != "SimpleTokenizer":
        raise ModelLoadError(
            f"{name!r} uses {type(tokenizer).__name__}, but edge bundles only support CLIP's "
            "BPE tokenizer (SimpleTokenizer): pick an OpenAI-style CLIP model"
        )


def _image_spec(model: torch.nn.Module) -> ImageSpec:
    cfg: dict[str, Any] = dict(getattr(model.visual, "preprocess_cfg", {}))
    size = cfg.get("size", getattr(model.visual, "image_size", 224))
    side = int(size[0] if isinstance(size, list | tuple) else size)
    mean = tuple(float(x) for x in cfg.get("mean", OPENAI_MEAN))
    std = tuple(float(x) for x in cfg.get("std", OPENAI_STD))
    resize = "squash" if cfg.get("resize_mode") == "squash" else "shortest"
    interpolation = str(cfg.get("interpolation", "bicubic"))
    return ImageSpec(side, mean, std, resize=resize, interpolation=interpolation)  # type: ignore[arg-type]


def _embedding_dim(model: torch.nn.Module) -> int:
    """The shared embedding width: `visual.output_dim` (open_clip ViTs), else the text
    tower's (timm image towers such as MobileCLIP's FastViT do not record it)."""
    for owner in (model.visual, getattr(model, "text", None)):
        dim = getattr(owner, "output_dim", None)
        if dim is not None:
            return int(dim)
    raise ModelLoadError(
        "open_clip model records no output_dim on its visual or text tower: unsupported architecture"
    )


def _model_id(name: str, pretrained: str | None) -> str:
    base = Path(name.removeprefix("local-dir:")).name if name.startswith("local-dir:") else name
    return f"{base}-{pretrained}" if pretrained else base
