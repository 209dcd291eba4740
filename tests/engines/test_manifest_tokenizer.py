"""Schema 2: the tokenizer is data in the manifest; old manifests migrate; bad files are refused."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from build_engines.bundle_writer import file_entry
from build_engines.models.text_tokenizers import bert_wordpiece_json, cn_clip_vocab
from engines.bundle import load_bundle
from engines.errors import BundleError, BundleSchemaError, ChecksumError
from engines.manifest import SCHEMA_VERSION, Manifest, TokenizerSpec
from engines.text_tokenizer import HFTokenizer, open_tokenizer
from engines.tokenizer import ClipTokenizer

TOKENIZER_JSON = "tokenizer/tokenizer.json"


def _edit(bundle: Path, change: dict[str, object]) -> None:
    path = bundle / "manifest.json"
    data = json.loads(path.read_text("utf-8"))
    for dotted, value in change.items():
        *parents, leaf = dotted.split(".")
        node = data
        for key in parents:
            node = node[key]
        if value is None:
            node.pop(leaf, None)
        else:
            node[leaf] = value
    path.write_text(json.dumps(data), "utf-8")


def test_schema_version_bumped_and_written(bundle_copy: Path) -> None:
    assert SCHEMA_VERSION >= 2
    data = json.loads((bundle_copy / "manifest.json").read_text("utf-8"))
    assert data["schema_version"] == SCHEMA_VERSION
    assert data["text"]["tokenizer"]["kind"] == "clip_bpe"


def test_version_1_manifest_still_loads(bundle_copy: Path) -> None:
    _edit(bundle_copy, {"schema_version": 1, "text.tokenizer": None, "image.crop_rounding": None})
    bundle = load_bundle(bundle_copy)
    assert bundle.manifest.text.tokenizer == TokenizerSpec(kind="clip_bpe", lowercase=True)
    assert bundle.manifest.image.crop_rounding == "round"
    assert isinstance(open_tokenizer(bundle), ClipTokenizer)


def test_version_0_refused_with_rebuild(bundle_copy: Path) -> None:
    _edit(bundle_copy, {"schema_version": 0})
    with pytest.raises(BundleSchemaError, match="rebuild the bundle"):
        load_bundle(bundle_copy)


def test_unknown_tokenizer_kind_refused(bundle_copy: Path) -> None:
    _edit(bundle_copy, {"text.tokenizer.kind": "word2vec"})
    with pytest.raises(BundleSchemaError, match="word2vec.*rebuild"):
        load_bundle(bundle_copy)


@pytest.fixture
def hf_bundle(bundle_copy: Path) -> Path:
    """The hand-made bundle re-labelled with Chinese-CLIP's WordPiece tokenizer.json."""
    bert_wordpiece_json(cn_clip_vocab(), bundle_copy / TOKENIZER_JSON)
    manifest = Manifest.load(bundle_copy)
    text = replace(
        manifest.text,
        tokenizer_files=(TOKENIZER_JSON,),
        sot_token=101,
        eot_token=102,
        pad_token=0,
        tokenizer=TokenizerSpec(kind="hf_tokenizers", lowercase=False),
    )
    replace(manifest, text=text, files=(file_entry(bundle_copy, TOKENIZER_JSON),)).save(bundle_copy)
    return bundle_copy


def test_hf_bundle_tokenizes_chinese(hf_bundle: Path) -> None:
    tok = open_tokenizer(load_bundle(hf_bundle))
    assert isinstance(tok, HFTokenizer)
    row = tok(["红色的圆形"])[0]
    assert row[0] == 101 and row[6] == 102 and (row[7:] == 0).all()


def test_altered_tokenizer_refused(hf_bundle: Path) -> None:
    path = hf_bundle / TOKENIZER_JSON
    path.write_text(path.read_text("utf-8").replace('"红"', '"紅"', 1), "utf-8")
    with pytest.raises(ChecksumError, match="tokenizer file.*rebuild"):
        load_bundle(hf_bundle)
    with pytest.raises(ChecksumError, match="tokenizer file"):
        open_tokenizer(load_bundle(hf_bundle, verify=False))  # the encoder checks it too


def test_missing_tokenizer_refused(hf_bundle: Path) -> None:
    (hf_bundle / TOKENIZER_JSON).unlink()
    with pytest.raises(BundleError, match="tokenizer file.*missing.*rebuild"):
        load_bundle(hf_bundle)
    with pytest.raises(BundleError, match="missing"):
        open_tokenizer(load_bundle(hf_bundle, verify=False))


def test_unchecksummed_tokenizer_refused(hf_bundle: Path) -> None:
    _edit(hf_bundle, {"files": []})
    with pytest.raises(BundleError, match="no checksum in the manifest"):
        open_tokenizer(load_bundle(hf_bundle))


def test_kind_without_its_file_refused(hf_bundle: Path) -> None:
    shutil.copyfile(hf_bundle / TOKENIZER_JSON, hf_bundle / "tokenizer" / "vocab.json")
    _edit(hf_bundle, {"text.tokenizer.kind": "clip_bpe", "text.tokenizer.lowercase": True})
    with pytest.raises(BundleError, match="lists no bpe_simple_vocab"):
        open_tokenizer(load_bundle(hf_bundle))
