"""An official-format cn_clip `.pt` converts to ChineseCLIPModel with identical embeddings.

The reference is cn_clip's own `CLIP` class (from the `cn-clip` wheel) with small random
weights. Its package `__init__` imports torchvision (only for image transforms), which
is not installable against this machine's CPU torch, so `cn_clip.clip` is registered as a
bare package holding the real `FullTokenizer` and `model.py` is loaded from its file.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import sys
import types
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import engines
from build_engines.api import build_bundle
from build_engines.errors import ModelLoadError
from build_engines.models import load_model
from build_engines.models.text_tokenizers import cn_clip_vocab


def _cn_clip_model_module() -> Any:
    root = cn_clip_vocab().parent
    if "cn_clip.clip.model" in sys.modules:
        return sys.modules["cn_clip.clip.model"]
    _package("cn_clip", root.parent)
    sub = _package("cn_clip.clip", root)
    for name in ("bert_tokenizer", "configuration_bert", "modeling_bert"):
        _load(f"cn_clip.clip.{name}", root / f"{name}.py")
    sub._tokenizer = sys.modules["cn_clip.clip.bert_tokenizer"].FullTokenizer()  # type: ignore[attr-defined]
    return _load("cn_clip.clip.model", root / "model.py")


def _package(name: str, folder: Path) -> types.ModuleType:
    """A package module without running its __init__ (which imports torchvision)."""
    spec = importlib.machinery.ModuleSpec(name, None, is_package=True)
    spec.submodule_search_locations = [str(folder)]
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    return module


def _load(name: str, path: Path) -> Any:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Path]:
    """A small random cn_clip CLIP and its checkpoint saved like cn_clip's trainer does."""
    model_module = _cn_clip_model_module()
    torch.manual_seed(0)
    model = model_module.CLIP(
        embed_dim=32, image_resolution=32, vision_layers=2, vision_width=128,
        vision_patch_size=16, vocab_size=21128, text_attention_probs_dropout_prob=0.0,
        text_hidden_act="gelu", text_hidden_dropout_prob=0.0, text_hidden_size=64,
        text_initializer_range=0.02, text_intermediate_size=128,
        text_max_position_embeddings=64, text_num_attention_heads=1,
        text_num_hidden_layers=2, text_type_vocab_size=2,
    ).eval()  # fmt: skip
    path = tmp_path_factory.mktemp("cnclip") / "clip_cn_small.pt"
    state = {f"module.{k}": v for k, v in model.state_dict().items()}
    torch.save({"epoch": 1, "state_dict": state}, path)
    return model, path


@torch.no_grad()
def test_converted_embeddings_match_cn_clip(reference: tuple[Any, Path]) -> None:
    model, path = reference
    loaded = load_model(str(path))
    assert loaded.info.family == "cn_clip" and loaded.image.resize == "squash"
    pixels = torch.randn(3, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    ids = torch.from_numpy(loaded.tokenizer.runtime(loaded.context_length)(
        ["红色的圆形", "一只在海滩上玩耍的狗", "a red circle"]))  # fmt: skip
    want_img = torch.nn.functional.normalize(model.encode_image(pixels), dim=-1)
    want_txt = torch.nn.functional.normalize(model.encode_text(ids), dim=-1)
    got_img, got_txt = loaded.model.image_embeds(pixels), loaded.model.text_embeds(ids)
    assert float((got_img * want_img).sum(-1).min()) > 0.9999
    assert float((got_txt * want_txt).sum(-1).min()) > 0.9999


def test_checkpoint_exports_and_searches(reference: tuple[Any, Path], tmp_path: Path) -> None:
    _, path = reference
    out = build_bundle(str(path), tmp_path / "b", targets=("onnx",), precisions=("fp32",))
    with engines.open(out) as enc:
        emb = enc.encode_text(["红色的圆形"])
    assert emb.shape == (1, 32) and np.isclose(np.linalg.norm(emb), 1.0, atol=1e-5)


def test_not_a_cn_clip_checkpoint(tmp_path: Path) -> None:
    bad = tmp_path / "other.pt"
    torch.save({"state_dict": {"visual.proj": torch.zeros(2, 2)}}, bad)
    with pytest.raises(ModelLoadError, match="not a cn_clip checkpoint"):
        load_model(str(bad))
