"""The CLIP BPE vocabulary file, taken from the open-clip-torch wheel without importing it.

`import open_clip` needs torchvision; the vocabulary is just a data file in its package
folder, so we locate the folder with importlib instead.
"""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

from build_engines.errors import BuildError

VOCAB_NAME = "bpe_simple_vocab_16e6.txt.gz"
TOKENIZER_DIR = "tokenizer"


def vocab_path() -> Path:
    """Path of the vocab shipped with open-clip-torch; BuildError says how to get it."""
    spec = importlib.util.find_spec("open_clip")
    folders = list(spec.submodule_search_locations or []) if spec is not None else []
    for folder in folders:
        candidate = Path(folder) / VOCAB_NAME
        if candidate.is_file():
            return candidate
    raise BuildError(
        f"{VOCAB_NAME} not found (open-clip-torch package folders: {folders or 'none'}): "
        "pip install open-clip-torch in the builder's environment (with --no-deps the "
        "vocabulary is there too)"
    )


def copy_tokenizer(bundle_dir: Path, sources: dict[str, Path]) -> list[str]:
    """Copy tokenizer files into `bundle_dir/tokenizer/` (sorted, as the manifest lists them)."""
    rels = []
    for name in sorted(sources):
        rel = f"{TOKENIZER_DIR}/{name}"
        (bundle_dir / TOKENIZER_DIR).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(sources[name], bundle_dir / rel)
        rels.append(rel)
    return rels
