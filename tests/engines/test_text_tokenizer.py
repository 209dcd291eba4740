"""Tokenizers as data: `hf_tokenizers` bundles match their reference tokenizer id for id.

BERT WordPiece (Chinese-CLIP): the runtime's `tokenizer.json`, built from the `cn-clip`
wheel's real `vocab.txt`, against transformers' `BertTokenizer` and cn_clip's own
pure-Python tokenizer. SentencePiece/Unigram (SigLIP): no real SigLIP vocabulary ships in
any installable package, so a small Unigram model is *trained here* with `tokenizers` and
compared with transformers' `PreTrainedTokenizerFast` padding/truncation of the same file.
"""

from __future__ import annotations

import importlib.util
import shutil
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from build_engines.models.text_tokenizers import (
    bert_source,
    cn_clip_vocab,
    hf_tokenizer_source,
    train_unigram,
)
from engines.errors import BundleError
from engines.manifest import TextSpec, TokenizerSpec
from engines.text_tokenizer import HFTokenizer, make_tokenizer

CORPUS = [
    "a red circle",
    "A Photo Of A Dog Playing On The Beach!",
    "红色的圆形",
    "一只在海滩上玩耍的狗",
    "紅色的圓形",  # traditional
    "臺北的夜景與機車",
    "红色 circle on a 蓝色 background",
    "iPhone拍的照片，2024年5月",
    "“你好”，世界！（测试）：【全角】",  # full-width punctuation
    "ＡＢＣ１２３　全角字母",
    "猫🐱 and dog 🐶🏖️ 👨‍👩‍👧",
    "café naïve Zürich façade São Paulo",
    "강아지 москва Ελλάδα مرحبا 東京",
    "",
    "   ",
    "e-mail 3.14 #tag @user (parens) [brackets]",
    "超长文本" * 40,
    "word " * 200,
]


def _cn_clip_full_tokenizer() -> ModuleType:
    """cn_clip's bert_tokenizer.py loaded by path: its package __init__ imports torch models."""
    path = cn_clip_vocab().parent / "bert_tokenizer.py"
    spec = importlib.util.spec_from_file_location("cn_clip_bert_tokenizer", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def bert_json(tmp_path_factory: pytest.TempPathFactory) -> HFTokenizer:
    source = bert_source(cn_clip_vocab(), tmp_path_factory.mktemp("bert"))
    tok = source.runtime(52)
    assert isinstance(tok, HFTokenizer)
    return tok


def _cn_clip_reference(context: int) -> Callable[[str], list[int]]:
    full = _cn_clip_full_tokenizer().FullTokenizer(vocab_file=str(cn_clip_vocab()))

    def encode(text: str) -> list[int]:  # = cn_clip.clip.tokenize, without torch
        tokens = ["[CLS]", *full.tokenize(text)[: context - 2], "[SEP]"]
        ids = full.convert_tokens_to_ids(tokens)
        return [*ids, *[0] * (context - len(ids))]

    return encode


@pytest.mark.parametrize("context", [52, 8])
def test_bert_matches_transformers_and_cn_clip(
    bert_json: HFTokenizer, context: int, tmp_path: Path
) -> None:
    from transformers import BertTokenizer

    ours = bert_json if context == 52 else HFTokenizer(bert_json.path, _spec(context))
    shutil.copyfile(cn_clip_vocab(), tmp_path / "vocab.txt")  # Chinese-CLIP's layout
    reference = BertTokenizer.from_pretrained(str(tmp_path), do_lower_case=True)
    expected = reference(CORPUS, padding="max_length", truncation=True, max_length=context)
    cn_clip = _cn_clip_reference(context)
    got = ours(CORPUS)
    assert got.shape == (len(CORPUS), context) and got.dtype == np.int64
    for text, row, want in zip(CORPUS, got, expected["input_ids"], strict=True):
        assert row.tolist() == list(want), text
        assert row.tolist() == cn_clip(text), text


def _spec(context: int) -> TextSpec:
    return TextSpec(
        context_length=context,
        tokenizer_files=("tokenizer/tokenizer.json",),
        sot_token=101,
        eot_token=102,
        pad_token=0,
        tokenizer=TokenizerSpec(kind="hf_tokenizers", lowercase=False),
    )


def test_bert_chinese_is_per_character(bert_json: HFTokenizer) -> None:
    ids = bert_json.encode("红色的圆形")
    assert len(ids) == 2 + 5 and ids[0] == 101 and ids[-1] == 102
    assert 100 not in ids  # no [UNK]: every character is in the Chinese-CLIP vocabulary


def _train_unigram(path: Path) -> Path:
    """A small SentencePiece-style Unigram tokenizer trained here (NOT SigLIP's vocabulary)."""
    return train_unigram(path, vocab_size=300, corpus=[t for t in CORPUS if t.strip()])


@pytest.mark.parametrize("pad_to_context", [True, False])
def test_unigram_matches_transformers(tmp_path: Path, pad_to_context: bool) -> None:
    from transformers import PreTrainedTokenizerFast

    path = _train_unigram(tmp_path / "tokenizer.json")
    source = hf_tokenizer_source(path, sot=-1, eot=1, pad=0, pad_to_context=pad_to_context)
    ours = source.runtime(16)
    reference = PreTrainedTokenizerFast(tokenizer_file=str(path), pad_token="<pad>")
    expected = reference(CORPUS, padding="max_length", truncation=True, max_length=16)
    for text, row, want in zip(CORPUS, ours(CORPUS), expected["input_ids"], strict=True):
        assert row.tolist() == list(want), text
        assert row.tolist().count(1) == 1  # </s> survives truncation


def test_left_padding(tmp_path: Path) -> None:
    path = _train_unigram(tmp_path / "tokenizer.json")
    spec = TextSpec(
        context_length=8,
        tokenizer_files=("tokenizer/tokenizer.json",),
        sot_token=-1,
        eot_token=1,
        pad_token=0,
        tokenizer=TokenizerSpec(kind="hf_tokenizers", lowercase=False, padding_side="left"),
    )
    row = HFTokenizer(path, spec)(["red"])[0].tolist()
    assert row[-1] == 1 and row[0] == 0


def test_wrong_specials_refused(tmp_path: Path) -> None:
    path = _train_unigram(tmp_path / "tokenizer.json")
    with pytest.raises(BundleError, match="does not belong to this model"):
        make_tokenizer(_spec(8), lambda rel: path)  # BERT ids 101/102 on a Unigram file


def test_unreadable_tokenizer_file(tmp_path: Path) -> None:
    bad = tmp_path / "tokenizer.json"
    bad.write_text("{not json", "utf-8")
    with pytest.raises(BundleError, match="cannot load the tokenizer"):
        HFTokenizer(bad, _spec(8))


def test_bare_string_refused(bert_json: HFTokenizer) -> None:
    with pytest.raises(TypeError, match="sequence of strings"):
        bert_json("红色")
    assert bert_json([]).shape == (0, 52)
