"""Model sources resolve to LoadedClip with unit-norm, EOT-pooled embeddings."""

from __future__ import annotations

import importlib.abc
import json
import sys
from pathlib import Path

import huggingface_hub.constants
import pytest
import torch

from build_engines.errors import ModelLoadError
from build_engines.models import load_model
from build_engines.models.base import OPENAI_MEAN
from build_engines.models.tiny import build_tiny_model

EOT = 49407


def _ids(*tokens: int, context: int = 77) -> torch.Tensor:
    ids = torch.zeros(1, context, dtype=torch.int64)
    ids[0, : len(tokens)] = torch.tensor(tokens)
    return ids


def test_tiny_geometry_and_unit_norm() -> None:
    loaded = load_model("tiny")
    assert (loaded.context_length, loaded.embedding_dim, loaded.image.size) == (77, 64, 64)
    assert loaded.info.family == "builtin"
    with torch.inference_mode():
        img = loaded.model.image_embeds(torch.randn(3, 3, 64, 64))
        txt = loaded.model.text_embeds(_ids(49406, 320, EOT))
    assert img.shape == (3, 64) and txt.shape == (1, 64)
    torch.testing.assert_close(img.norm(dim=-1), torch.ones(3))
    torch.testing.assert_close(txt.norm(dim=-1), torch.ones(1))


def test_tiny_is_deterministic() -> None:
    a, b = load_model("tiny"), load_model("tiny")
    x = torch.randn(2, 3, 64, 64)
    with torch.inference_mode():
        torch.testing.assert_close(a.model.image_embeds(x), b.model.image_embeds(x))


def test_text_pools_at_eot() -> None:
    """Tokens after EOT (padding) must not change the embedding; tokens before it must."""
    towers = load_model("tiny").model
    with torch.inference_mode():
        base = towers.text_embeds(_ids(49406, 320, 1125, EOT))
        padded = towers.text_embeds(_ids(49406, 320, 1125, EOT, 500, 600))
        other = towers.text_embeds(_ids(49406, 320, 4000, EOT))
    torch.testing.assert_close(base, padded)
    assert not torch.allclose(base, other)


def test_local_hf_dir_loads_offline_with_preprocessor_config(tmp_path: Path) -> None:
    build_tiny_model().save_pretrained(tmp_path)
    pre = {
        "crop_size": {"height": 64, "width": 64},
        "image_mean": [0.5] * 3,
        "image_std": [0.25] * 3,
    }
    (tmp_path / "preprocessor_config.json").write_text(json.dumps(pre))
    loaded = load_model(str(tmp_path))
    assert loaded.info.family == "hf-clip" and loaded.info.source == f"hf:{tmp_path}"
    assert loaded.image.mean == (0.5, 0.5, 0.5) and loaded.image.std == (0.25, 0.25, 0.25)
    x = torch.randn(2, 3, 64, 64)
    with torch.inference_mode():
        torch.testing.assert_close(
            loaded.model.image_embeds(x), load_model("tiny").model.image_embeds(x)
        )


def test_local_dir_without_preprocessor_uses_openai_defaults(tmp_path: Path) -> None:
    build_tiny_model().save_pretrained(tmp_path)
    assert load_model(str(tmp_path)).image.mean == OPENAI_MEAN


def test_directory_without_config_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="config.json"):
        load_model(str(tmp_path))


def test_missing_path_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="not a model directory"):
        load_model(str(tmp_path / "nope"))


def test_hub_id_offline_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(ModelLoadError, match="save_pretrained"):
        load_model("openai/clip-vit-base-patch32-not-cached")


class _BrokenTorchvision(importlib.abc.MetaPathFinder):
    """`import open_clip` fails like it does beside a torchvision built for another torch."""

    def find_spec(self, name: str, path: object = None, target: object = None) -> None:
        if name == "open_clip":
            raise RuntimeError("operator torchvision::nms does not exist")
        return None


def test_open_clip_with_mismatched_torchvision_names_the_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delitem(sys.modules, "open_clip", raising=False)
    monkeypatch.setattr(sys, "meta_path", [_BrokenTorchvision(), *sys.meta_path])
    with pytest.raises(ModelLoadError, match=r"torchvision::nms.*pip install open-clip-torch"):
        load_model("open_clip:ViT-B-32:openai")


def test_malformed_open_clip_spec() -> None:
    with pytest.raises(ModelLoadError, match="open_clip:NAME:PRETRAINED"):
        load_model("open_clip:ViT-B-32")
