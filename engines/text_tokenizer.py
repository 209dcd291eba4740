"""Text -> token ids for any bundle: dispatches on the manifest's `TokenizerSpec.kind`.

`clip_bpe` is our open_clip-exact BPE (`engines.tokenizer`); `hf_tokenizers` loads the
checkpoint's own `tokenizer.json` with the Hugging Face `tokenizers` library (Rust, no
torch, no transformers), which covers BERT WordPiece (Chinese-CLIP) and
SentencePiece/Unigram (SigLIP). Truncation, padding and special tokens are configured from
the manifest, not from whatever the file happened to carry, so train and serve agree.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from engines.errors import BundleError
from engines.manifest import TextSpec
from engines.tokenizer import VOCAB_NAME, ClipTokenizer

if TYPE_CHECKING:
    from engines.bundle import Bundle

HF_TOKENIZER_NAME = "tokenizer.json"


class TextTokenizer(Protocol):
    """What the encoder needs from a tokenizer: a fixed-width id matrix."""

    context_length: int

    def encode(self, text: str) -> list[int]: ...

    def __call__(self, texts: Sequence[str]) -> np.ndarray: ...


class HFTokenizer:
    """A `tokenizer.json` with the manifest's context length, specials and padding."""

    def __init__(self, path: Path, spec: TextSpec) -> None:
        from tokenizers import Tokenizer

        try:
            tok = Tokenizer.from_file(str(path))
        except Exception as exc:  # the Rust loader raises plain Exception on bad JSON
            raise BundleError(f"cannot load the tokenizer {path} ({exc})") from exc
        self.path = Path(path)
        self.spec = spec
        self.context_length = spec.context_length
        self.lowercase = spec.tokenizer.lowercase
        tok.no_padding()
        tok.enable_truncation(max_length=spec.context_length, direction="right")
        self._tok = tok
        self._check_specials(path)

    def _check_specials(self, path: Path) -> None:
        """The file must add the specials the manifest (and the trained tower) expect."""
        ids = self._tok.encode("").ids
        first = self.spec.sot_token
        if (first >= 0 and ids[:1] != [first]) or ids[-1:] != [self.spec.eot_token]:
            raise BundleError(
                f"{path} encodes an empty text as {ids}, but the manifest expects "
                f"first {first} and last {self.spec.eot_token}: the tokenizer file does "
                "not belong to this model"
            )
        if self._tok.id_to_token(self.spec.pad_token) is None:
            raise BundleError(f"{path} has no token with the pad id {self.spec.pad_token}")

    def encode(self, text: str) -> list[int]:
        """Ids including the tokenizer's own special tokens, truncated to the context."""
        return list(self._tok.encode(text.lower() if self.lowercase else text).ids)

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        """`(N, context_length)` int64, padded with the pad id on the manifest's side."""
        if isinstance(texts, str):
            raise TypeError("pass a sequence of strings, e.g. [text], not a bare string")
        out = np.full((len(texts), self.context_length), self.spec.pad_token, dtype=np.int64)
        prepared = [t.lower() if self.lowercase else t for t in texts]
        for row, enc in enumerate(self._tok.encode_batch(prepared)):
            ids = enc.ids
            if self.spec.tokenizer.padding_side == "left":
                out[row, self.context_length - len(ids) :] = ids
            else:
                out[row, : len(ids)] = ids
        return out


def make_tokenizer(spec: TextSpec, resolve: Callable[[str], Path]) -> TextTokenizer:
    """The tokenizer `spec` describes; `resolve` maps a tokenizer file name to a path."""
    kind = spec.tokenizer.kind
    if kind == "clip_bpe":
        if not spec.tokenizer.lowercase:
            raise BundleError("clip_bpe always lower-cases: the manifest says lowercase=false")
        return ClipTokenizer(resolve(_named(spec, VOCAB_NAME)), spec.context_length)
    if kind == "hf_tokenizers":
        return HFTokenizer(resolve(_named(spec, HF_TOKENIZER_NAME)), spec)
    raise BundleError(f"unknown tokenizer kind {kind!r}: update edge-photo-search")


def _named(spec: TextSpec, name: str) -> str:
    names = [f for f in spec.tokenizer_files if Path(f).name == name]
    if not names:
        raise BundleError(
            f"the manifest's {spec.tokenizer.kind} tokenizer lists no {name} in "
            f"text.tokenizer_files ({list(spec.tokenizer_files)})"
        )
    return names[0]


def open_tokenizer(bundle: Bundle) -> TextTokenizer:
    """The bundle's tokenizer, after checking its files against the manifest checksums.

    Checked here too (not only in `verify_files`): a tokenizer that silently changed
    produces wrong ids, and every search would quietly return noise.
    """
    from engines.bundle import verify_entry

    manifest = bundle.manifest
    listed = {e.path: e for e in manifest.files}
    for rel in manifest.text.tokenizer_files:
        if rel not in listed:
            raise BundleError(
                f"{bundle.dir}: tokenizer file {rel} has no checksum in the manifest: "
                f"{bundle.rebuild_hint()}"
            )
        verify_entry(bundle, listed[rel], "tokenizer file")
    try:
        tok = make_tokenizer(manifest.text, bundle.path)
    except BundleError as exc:
        raise BundleError(f"{bundle.dir}: {exc}: {bundle.rebuild_hint()}") from exc
    if isinstance(tok, ClipTokenizer):
        ClipTokenizer.check_specials(tok, bundle)
    return tok
