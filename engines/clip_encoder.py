"""The one object the app talks to: images and texts in, L2-normalised embeddings out.

Pairs the bundle's tokenizer and preprocessing with one runner per tower, so callers
never see backends, dtypes or batch profiles.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

import numpy as np
from PIL import Image

from engines.base import TowerRunner
from engines.bundle import Bundle
from engines.closing import Closing
from engines.errors import BundleError, EngineError
from engines.manifest import Manifest
from engines.preprocess import ImagePreprocessor
from engines.text_tokenizer import open_tokenizer

if TYPE_CHECKING:
    from engines.batching import BatchPolicy, DynamicBatcher


class Tower(Protocol):
    """A runner, or the batcher in front of it: rows in, embeddings out, from any thread."""

    def run(self, x: np.ndarray) -> np.ndarray: ...


class ClipEncoder(Closing):
    """Image + text towers of one bundle. Outputs are float32, L2-normalised, C-contiguous."""

    def __init__(self, bundle: Bundle, image_runner: TowerRunner, text_runner: TowerRunner) -> None:
        manifest = bundle.manifest
        if not manifest.l2_normalized_in_graph:
            raise BundleError(
                f"{bundle.dir}: embeddings are not normalised in the graph; this runtime "
                f"expects bundles from edge-build: {bundle.rebuild_hint()}"
            )
        for runner, tower in ((image_runner, "image"), (text_runner, "text")):
            if runner.artifact.tower != tower:
                raise BundleError(f"{runner.artifact.key} was given as the {tower} runner")
            if runner.dim != manifest.embedding_dim:
                raise BundleError(
                    f"{runner.artifact.key} outputs {runner.dim} dims, the manifest's "
                    f"embedding_dim is {manifest.embedding_dim}: {bundle.rebuild_hint()}"
                )
        self.bundle = bundle
        self.image_runner = image_runner
        self.text_runner = text_runner
        self.tokenizer = open_tokenizer(bundle)
        self.preprocessor = ImagePreprocessor(manifest.image)
        self._image: Tower = image_runner
        self._text: Tower = text_runner

    def use_batching(self, policy: BatchPolicy) -> None:
        """Route both towers through a `DynamicBatcher` (the daemon's way; call once)."""
        from engines.batching import DynamicBatcher

        if isinstance(self._image, DynamicBatcher):
            raise EngineError("use_batching was already called on this encoder")
        self._image = DynamicBatcher(self.image_runner, policy, pad_value=None)
        self._text = DynamicBatcher(self.text_runner, policy, self.manifest.text.pad_token)

    @property
    def batchers(self) -> tuple[DynamicBatcher, ...]:
        """The towers' batchers, image then text (empty without `use_batching`)."""
        from engines.batching import DynamicBatcher

        towers = (self._image, self._text)
        return tuple(t for t in towers if isinstance(t, DynamicBatcher))

    @property
    def manifest(self) -> Manifest:
        return self.bundle.manifest

    @property
    def bundle_id(self) -> str:
        return self.manifest.bundle_id

    @property
    def dim(self) -> int:
        return self.manifest.embedding_dim

    @property
    def image_size(self) -> int:
        return self.manifest.image.size

    def preprocess(self, img: Image.Image) -> np.ndarray:
        """One PIL image -> `(3, S, S)` float32 (decode workers call this in parallel)."""
        return self.preprocessor(img)

    def encode_pixels(self, x: np.ndarray) -> np.ndarray:
        """Preprocessed `(N, 3, S, S)` float32 -> `(N, D)` embeddings."""
        return self._image.run(x)

    def encode_images(self, imgs: Sequence[Image.Image]) -> np.ndarray:
        return self.encode_pixels(self.preprocessor.batch(imgs))

    def tokenize(self, texts: Sequence[str]) -> np.ndarray:
        return self.tokenizer(texts)

    def encode_text(self, texts: Sequence[str]) -> np.ndarray:
        """Texts -> `(N, D)` embeddings in the same space as the images."""
        ids = self.tokenizer(texts)
        spec = self.manifest.text.tokenizer
        dynamic = self.text_runner.artifact.inputs[0].shape[1] < 0
        if dynamic and not spec.pad_to_context and spec.padding_side == "right":
            ids = trim_padding(ids, self.manifest.text.eot_token)
        return self._text.run(ids)

    def describe(self) -> dict[str, str]:
        """Flat summary for logs and the status page (image.* and text.* keys)."""
        info = {"bundle_id": self.bundle_id, "model": self.manifest.model.id, "dim": str(self.dim)}
        for prefix, runner in (("image", self.image_runner), ("text", self.text_runner)):
            info.update({f"{prefix}.{k}": v for k, v in runner.describe().items()})
        return info

    def close(self) -> None:
        for batcher in self.batchers:
            batcher.close()
        self.image_runner.close()
        self.text_runner.close()


WIDTH_STEP = 8  # text input widths run: multiples of 8 tokens (see trim_padding)


def trim_padding(ids: np.ndarray, eot_token: int, step: int = WIDTH_STEP) -> np.ndarray:
    """Drop the padding columns after the last EOT of the batch, keeping the width a
    multiple of ``step`` (or the whole context).

    Exact, not an approximation: CLIP's text transformer is causal and pools at EOT, and
    BERT-style towers (Chinese-CLIP) mask the pad ids inside the graph, so no position
    that is pooled ever sees the padding. Towers without a mask (SigLIP) set
    `pad_to_context` and are never trimmed. A short query then costs a few tokens
    instead of the whole context.

    Why widths in steps: OpenVINO's CPU plugin keeps compiled kernels and buffers for every
    input shape it has run, about 2 MB each for a ViT-B/32 text tower. Cut to the exact
    length, a tagging run and a day of searches met ~80 shapes (+253-257 MB of RSS); in
    steps of 8, 13 shapes (+115-119 MB, of which 64 MB are the mapped weights given back
    later), at the same speed within noise (docs/benchmarks/daemon-100k).
    """
    if ids.size == 0:
        return ids
    last = int((ids == eot_token).argmax(axis=1).max())
    width = min(ids.shape[1], -(-max(last + 1, 2) // step) * step)
    return np.ascontiguousarray(ids[:, :width])
