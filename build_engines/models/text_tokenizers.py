"""What a model's text tower was trained with, as the builder hands it to the bundle.

A `TokenizerSource` names the tokenizer kind, its source files (copied into the bundle's
`tokenizer/` folder) and the special ids the tower expects. The builder tokenises parity
and calibration text through the runtime's own `engines.text_tokenizer`, so what is
measured is what the appliance will run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from build_engines.errors import ModelLoadError
from engines.manifest import TextSpec, TokenizerSpec
from engines.text_tokenizer import HF_TOKENIZER_NAME, TextTokenizer, make_tokenizer

TOKENIZER_DIR = "tokenizer"


@dataclass(frozen=True)
class TokenizerSource:
    """Kind + files + specials; `files` empty means open_clip's BPE vocabulary."""

    spec: TokenizerSpec = TokenizerSpec()
    files: dict[str, Path] = field(default_factory=dict)  # bundle file name -> source
    sot: int = 49406
    eot: int = 49407
    pad: int = 0

    def sources(self) -> dict[str, Path]:
        """Source path of every tokenizer file, by the name it gets in the bundle."""
        if self.files:
            return dict(self.files)
        from build_engines.vocab import VOCAB_NAME, vocab_path

        return {VOCAB_NAME: vocab_path()}

    def text_spec(self, context_length: int) -> TextSpec:
        """The manifest's text section for these files inside `tokenizer/`."""
        names = tuple(f"{TOKENIZER_DIR}/{n}" for n in sorted(self.sources()))
        return TextSpec(
            context_length=context_length,
            tokenizer_files=names,
            sot_token=self.sot,
            eot_token=self.eot,
            pad_token=self.pad,
            tokenizer=self.spec,
        )

    def runtime(self, context_length: int) -> TextTokenizer:
        """The runtime tokenizer over the source files (before they are copied)."""
        sources = self.sources()
        return make_tokenizer(self.text_spec(context_length), lambda rel: sources[Path(rel).name])


def hf_tokenizer_source(
    path: Path, sot: int, eot: int, pad: int, pad_to_context: bool = False
) -> TokenizerSource:
    """A `tokenizer.json` that does its own normalisation (lower-casing included)."""
    if not path.is_file():
        raise ModelLoadError(f"{path} not found: the checkpoint needs its {HF_TOKENIZER_NAME}")
    spec = TokenizerSpec(kind="hf_tokenizers", lowercase=False, pad_to_context=pad_to_context)
    return TokenizerSource(spec=spec, files={HF_TOKENIZER_NAME: path}, sot=sot, eot=eot, pad=pad)


def read_vocab(vocab_txt: Path) -> list[str]:
    """One token per '\n'-separated line, like BERT's `load_vocab` (not `splitlines`:
    the Chinese vocabulary holds tokens that Python would split on, e.g. U+2028)."""
    lines = vocab_txt.read_text("utf-8").split("\n")
    return lines[:-1] if lines and not lines[-1] else lines


def bert_wordpiece_json(vocab_txt: Path, out: Path, lowercase: bool = True) -> Path:
    """A BERT WordPiece `tokenizer.json` from a `vocab.txt` (Chinese-CLIP / cn_clip layout).

    Same pipeline as transformers' `BertTokenizerFast` converter: BERT normaliser (clean
    text, CJK characters split, accents stripped when lower-casing), BERT pre-tokenizer,
    WordPiece with `##` continuation, `[CLS] ... [SEP]` template.
    """
    from tokenizers import Tokenizer, decoders, normalizers, pre_tokenizers, processors
    from tokenizers.models import WordPiece

    vocab = {t: i for i, t in enumerate(read_vocab(vocab_txt))}
    missing = [t for t in ("[CLS]", "[SEP]", "[PAD]", "[UNK]") if t not in vocab]
    if missing:
        raise ModelLoadError(f"{vocab_txt} lacks the BERT special tokens {missing}")
    tok = Tokenizer(WordPiece(vocab, unk_token="[UNK]", max_input_chars_per_word=100))
    tok.normalizer = normalizers.BertNormalizer(
        clean_text=True, handle_chinese_chars=True, strip_accents=None, lowercase=lowercase
    )
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    cls, sep = vocab["[CLS]"], vocab["[SEP]"]
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B [SEP]",
        special_tokens=[("[CLS]", cls), ("[SEP]", sep)],
    )
    tok.decoder = decoders.WordPiece(prefix="##")
    for special in ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"):
        if special in vocab:
            tok.add_special_tokens([special])
    out.parent.mkdir(parents=True, exist_ok=True)
    tok.save(str(out))
    return out


def bert_source(vocab_txt: Path, work: Path, pad_to_context: bool = False) -> TokenizerSource:
    """WordPiece source for a `vocab.txt`: writes `tokenizer.json` into `work`."""
    path = bert_wordpiece_json(vocab_txt, work / HF_TOKENIZER_NAME)
    vocab = read_vocab(vocab_txt)
    cls, sep, pad = (vocab.index(t) for t in ("[CLS]", "[SEP]", "[PAD]"))
    return hf_tokenizer_source(path, cls, sep, pad, pad_to_context)


def cn_clip_vocab() -> Path:
    """Chinese-CLIP's BERT vocabulary, shipped in the `cn-clip` wheel (found without import)."""
    import importlib.util

    spec = importlib.util.find_spec("cn_clip")
    for folder in list(spec.submodule_search_locations or []) if spec else []:
        candidate = Path(folder) / "clip" / "vocab.txt"
        if candidate.is_file():
            return candidate
    raise ModelLoadError(
        "cn_clip/clip/vocab.txt not found: pip install --no-deps cn-clip in the builder's "
        "environment (it ships Chinese-CLIP's vocabulary)"
    )


def default_corpus() -> list[str]:
    """Shapes captions + generic photo captions: enough text to train a small vocabulary."""
    from build_engines import shapes
    from build_engines.captions import GENERIC_CAPTIONS

    texts = [
        c
        for s, col in shapes.iter_labels()
        for c in shapes.caption_variants(shapes.ShapeSpec(s, col, "white"))
    ]
    return texts + [c for c in GENERIC_CAPTIONS if c]


def train_unigram(out: Path, vocab_size: int = 2000, corpus: list[str] | None = None) -> Path:
    """A SentencePiece-style Unigram `tokenizer.json` (NFKC, lower-case, metaspace, `</s>`).

    Stands in for SigLIP's real SentencePiece model, which no installable package ships:
    it exercises the same runtime path (kind `hf_tokenizers`, no first special, pad to
    the context). Deterministic for a given corpus.
    """
    from tokenizers import Tokenizer, decoders, normalizers, pre_tokenizers, processors
    from tokenizers.models import Unigram
    from tokenizers.trainers import UnigramTrainer

    tok = Tokenizer(Unigram())
    tok.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()])
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.decoder = decoders.Metaspace()
    trainer = UnigramTrainer(
        vocab_size=vocab_size,
        special_tokens=["<pad>", "</s>", "<unk>"],
        unk_token="<unk>",
        show_progress=False,
    )
    tok.train_from_iterator((corpus or default_corpus()) * 5, trainer)
    eos = tok.token_to_id("</s>")
    tok.post_processor = processors.TemplateProcessing(
        single="$A </s>", special_tokens=[("</s>", eos)]
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    tok.save(str(out))
    return out
