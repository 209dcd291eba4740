"""Our torch-free tokenizer must match open_clip's SimpleTokenizer id for id."""

from __future__ import annotations

import importlib.util
import random
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from engines.bundle import load_bundle
from engines.errors import BundleError
from engines.tokenizer import ClipTokenizer
from tests.engines.engines_testkit import CONTEXT, VOCAB_NAME, open_clip_dir

WORDS = [
    "a",
    "photo",
    "of",
    "the",
    "dog",
    "cat's",
    "beach",
    "sunset",
    "over",
    "mountains",
    "it's",
    "we'll",
    "they're",
    "I'm",
    "you'd",
    "café",
    "naïve",
    "Zürich",
    "façade",
    "São",
    "東京",
    "猫",
    "写真",
    "강아지",
    "москва",
    "Ελλάδα",
    "مرحبا",
    "🐶",
    "🏖️",
    "👨‍👩‍👧",
    "&amp;",
    "&lt;b&gt;",
    "&quot;quoted&quot;",
    "e-mail",
    "3.14",
    "2024",
    "#tag",
    "@user",
    "...",
    "?!",
    "(parens)",
    "[brackets]",
    "snake_case",
    "CamelCase",
    "ALLCAPS",
    "x" * 40,
    "<start_of_text>",
    "<end_of_text>",
    "\t",
    "\n",
    "  ",
    "ﬁancé",
    "Ａｂｃ",
    "ß",
    "İstanbul",
]


def _open_clip_tokenizer() -> ModuleType:
    """open_clip's tokenizer module loaded by path (the package itself needs torchvision)."""
    spec = importlib.util.spec_from_file_location("oc_tokenizer", open_clip_dir() / "tokenizer.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _corpus() -> list[str]:
    rng = random.Random(7)
    texts = ["", " ", "a red circle on a blue background", "A PHOTO OF A DOG!!!", WORDS[-1] * 3]
    for _ in range(300):
        n = rng.randint(1, 12)
        sep = rng.choice([" ", "  ", "", ", ", "\n"])
        texts.append(sep.join(rng.choice(WORDS) for _ in range(n)))
    texts += [" ".join(WORDS) * 2, "word " * 200]
    return texts


@pytest.fixture(scope="module")
def reference() -> object:
    return _open_clip_tokenizer().SimpleTokenizer()


@pytest.fixture(scope="module")
def ours() -> ClipTokenizer:
    return ClipTokenizer(open_clip_dir() / VOCAB_NAME, context_length=77)


@pytest.mark.parametrize("context", [77, 16])
def test_matches_open_clip(reference: object, ours: ClipTokenizer, context: int) -> None:
    texts = _corpus()
    expected = reference(texts, context_length=context).numpy()  # type: ignore[operator]
    mine = (
        ClipTokenizer(open_clip_dir() / VOCAB_NAME, context)(texts)
        if context != 77
        else ours(texts)
    )
    assert mine.dtype == np.int64 and mine.shape == (len(texts), context)
    mismatched = [
        t for t, a, b in zip(texts, mine, expected, strict=True) if not np.array_equal(a, b)
    ]
    assert not mismatched, mismatched[:5]


def test_encode_matches_without_specials(reference: object, ours: ClipTokenizer) -> None:
    for text in _corpus()[:50]:
        assert ours.encode(text) == reference.encode(text)  # type: ignore[attr-defined]


def test_truncation_keeps_eot_last(ours: ClipTokenizer) -> None:
    row = ours(["word " * 200])[0]
    assert row[0] == 49406 and row[-1] == 49407 and (row != 0).all()


def test_padding_and_specials(ours: ClipTokenizer) -> None:
    row = ours(["dog"])[0]
    n = 2 + len(ours.encode("dog"))
    assert row[0] == 49406 and row[n - 1] == 49407 and (row[n:] == 0).all()


def test_empty_batch_and_bare_string(ours: ClipTokenizer) -> None:
    assert ours([]).shape == (0, 77)
    with pytest.raises(TypeError, match="sequence of strings"):
        ours("dog")


def test_from_bundle_uses_manifest_context(engine_bundle: Path) -> None:
    tok = ClipTokenizer.from_bundle(load_bundle(engine_bundle))
    assert tok.context_length == CONTEXT
    assert tok(["a dog"]).shape == (1, CONTEXT)


def test_bad_vocab_file(tmp_path: Path) -> None:
    bad = tmp_path / VOCAB_NAME
    bad.write_bytes(b"not gzip")
    with pytest.raises(BundleError, match="cannot read the BPE vocabulary"):
        ClipTokenizer(bad)
