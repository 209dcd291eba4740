"""CLIP byte-level BPE tokenizer, token-for-token identical to open_clip's SimpleTokenizer.

Reimplemented here because open_clip imports torch at module level and the runtime
must not. Cleaning (ftfy, double html unescape, whitespace collapse, lowercase), the
split regex and the merge loop follow open_clip exactly; tests compare the two.
"""

from __future__ import annotations

import gzip
import html
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import ftfy
import numpy as np
import regex

from engines.errors import BundleError

if TYPE_CHECKING:
    from engines.bundle import Bundle

VOCAB_NAME = "bpe_simple_vocab_16e6.txt.gz"
SPECIAL_TOKENS = ("<start_of_text>", "<end_of_text>")
_N_MERGES = 49152 - 256 - 2


@lru_cache
def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's reversible byte -> printable unicode map (avoids whitespace/control chars)."""
    bs = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1)]
    bs += list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs], strict=True))


def clean_text(text: str) -> str:
    """open_clip's 'lower' cleaning: ftfy, html unescape twice, collapse whitespace."""
    text = html.unescape(html.unescape(ftfy.fix_text(text))).strip()
    return " ".join(text.split()).strip().lower()


def _pairs(word: tuple[str, ...]) -> set[tuple[str, str]]:
    return set(zip(word, word[1:], strict=False))


def _merge(word: tuple[str, ...], first: str, second: str) -> tuple[str, ...]:
    """Replace every adjacent (first, second) in `word` by their concatenation."""
    out: list[str] = []
    i = 0
    while i < len(word):
        if i < len(word) - 1 and word[i] == first and word[i + 1] == second:
            out.append(first + second)
            i += 2
        else:
            out.append(word[i])
            i += 1
    return tuple(out)


def _read_merges(vocab_path: Path) -> list[tuple[str, str]]:
    try:
        lines = gzip.decompress(Path(vocab_path).read_bytes()).decode("utf-8").split("\n")
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise BundleError(
            f"cannot read the BPE vocabulary {vocab_path} ({exc}): rebuild the bundle "
            "with `edge-build export`"
        ) from exc
    merges = [tuple(line.split()) for line in lines[1 : _N_MERGES + 1]]
    if len(merges) != _N_MERGES or any(len(m) != 2 for m in merges):
        raise BundleError(f"{vocab_path} is not a CLIP BPE vocabulary: rebuild the bundle")
    return [(m[0], m[1]) for m in merges]


class ClipTokenizer:
    """Text -> int64 token ids `(N, context_length)`, SOT/EOT added, pad 0."""

    def __init__(self, vocab_path: Path, context_length: int = 77) -> None:
        if context_length < 2:
            raise ValueError(f"context_length must be >= 2 (SOT + EOT), got {context_length}")
        merges = _read_merges(vocab_path)
        base = list(bytes_to_unicode().values())
        vocab = base + [v + "</w>" for v in base] + ["".join(m) for m in merges]
        vocab += list(SPECIAL_TOKENS)
        self.encoder: dict[str, int] = {tok: i for i, tok in enumerate(vocab)}
        self.bpe_ranks: dict[tuple[str, str], int] = {m: i for i, m in enumerate(merges)}
        self.byte_encoder = bytes_to_unicode()
        self.context_length = context_length
        self.sot_token = self.encoder[SPECIAL_TOKENS[0]]
        self.eot_token = self.encoder[SPECIAL_TOKENS[1]]
        self.pad_token = 0
        self._cache: dict[str, tuple[int, ...]] = {t: (self.encoder[t],) for t in SPECIAL_TOKENS}
        self._pattern = regex.compile(
            "|".join(SPECIAL_TOKENS)
            + r"""|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+""",
            regex.IGNORECASE,
        )

    @classmethod
    def from_bundle(cls, bundle: Bundle) -> ClipTokenizer:
        """The tokenizer a bundle was built with (vocab file + context length + specials)."""
        spec = bundle.manifest.text
        names = [f for f in spec.tokenizer_files if Path(f).name == VOCAB_NAME]
        if not names:
            raise BundleError(
                f"{bundle.dir}: manifest lists no {VOCAB_NAME} in text.tokenizer_files: "
                f"{bundle.rebuild_hint()}"
            )
        tok = cls(bundle.path(names[0]), spec.context_length)
        tok.check_specials(bundle)
        return tok

    def check_specials(self, bundle: Bundle) -> None:
        """The manifest's SOT/EOT/pad ids must be this vocabulary's."""
        spec = bundle.manifest.text
        expected = (spec.sot_token, spec.eot_token, spec.pad_token)
        actual = (self.sot_token, self.eot_token, self.pad_token)
        if expected != actual:
            raise BundleError(
                f"{bundle.dir}: manifest special tokens {expected} differ from the vocabulary's "
                f"{actual}: {bundle.rebuild_hint()}"
            )

    def _bpe(self, token: str) -> tuple[int, ...]:
        """Ids of one pre-split token; cached because captions repeat the same words."""
        cached = self._cache.get(token)
        if cached is not None:
            return cached
        word = (*token[:-1], token[-1] + "</w>")
        pairs = _pairs(word)
        while pairs:
            bigram = min(pairs, key=lambda p: self.bpe_ranks.get(p, _N_MERGES + 1))
            if bigram not in self.bpe_ranks:
                break
            word = _merge(word, *bigram)
            if len(word) == 1:
                break
            pairs = _pairs(word)
        ids = tuple(self.encoder[w] for w in word)
        self._cache[token] = ids
        return ids

    def encode(self, text: str) -> list[int]:
        """Token ids of `text` without SOT/EOT and without truncation."""
        ids: list[int] = []
        for piece in self._pattern.findall(clean_text(text)):
            mapped = "".join(self.byte_encoder[b] for b in piece.encode("utf-8"))
            ids.extend(self._bpe(mapped))
        return ids

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        """`(N, context_length)` int64; over-long texts are cut and keep EOT last."""
        if isinstance(texts, str):
            raise TypeError("pass a sequence of strings, e.g. [text], not a bare string")
        out = np.full((len(texts), self.context_length), self.pad_token, dtype=np.int64)
        for row, text in enumerate(texts):
            ids = [self.sot_token, *self.encode(text), self.eot_token]
            if len(ids) > self.context_length:
                ids = ids[: self.context_length]
                ids[-1] = self.eot_token
            out[row, : len(ids)] = ids
        return out
