"""`LoadedClip`: the one shape every model source is turned into.

Export, parity and the PyTorch reference backend only ever see this, so adding a model
family means writing a loader that returns one, nothing else.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field

import torch
from torch import nn

from build_engines.models.text_tokenizers import TokenizerSource
from engines.manifest import ImageSpec, ModelInfo

OPENAI_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_STD = (0.26862954, 0.26130258, 0.27577711)
DEFAULT_CONTEXT = 77
VOCAB_SIZE = 49408


class ClipTowers(nn.Module, ABC):
    """Both towers of a CLIP model; outputs are L2-normalised so the graph carries the norm."""

    @abstractmethod
    def image_embeds(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """(N, 3, S, S) float32 -> (N, D) unit vectors."""

    @abstractmethod
    def text_embeds(self, input_ids: torch.Tensor) -> torch.Tensor:
        """(N, C) int64 -> (N, D) unit vectors."""


class ImageTower(nn.Module):
    """One-tensor forward for export: the exporter traces `forward` only."""

    def __init__(self, towers: ClipTowers) -> None:
        super().__init__()
        self.towers = towers

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        return self.towers.image_embeds(pixel_values)


class TextTower(nn.Module):
    """One-tensor forward for export of the text tower."""

    def __init__(self, towers: ClipTowers) -> None:
        super().__init__()
        self.towers = towers

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        return self.towers.text_embeds(input_ids)


def l2_normalize(x: torch.Tensor) -> torch.Tensor:
    """Unit vectors; eps keeps an all-zero row finite instead of NaN."""
    return x / x.norm(dim=-1, keepdim=True).clamp_min(1e-12)


@dataclass
class LoadedClip:
    """A ready-to-export CLIP in eval mode, with what the runtime must know about it."""

    model: ClipTowers
    info: ModelInfo
    image: ImageSpec
    context_length: int
    embedding_dim: int
    tokenizer: TokenizerSource = field(default_factory=TokenizerSource)

    def tower(self, name: str) -> nn.Module:
        """The export module of `name` ("image" | "text")."""
        if name == "image":
            return ImageTower(self.model).eval()
        if name == "text":
            return TextTower(self.model).eval()
        raise ValueError(f"unknown tower {name!r}: expected 'image' or 'text'")
