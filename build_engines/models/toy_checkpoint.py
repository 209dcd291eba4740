"""Reading and writing the project's committed toy checkpoints (toy-shapes, bilingual).

Both keep the weights as fp16 safetensors and drop the rows of the token-embedding table
that training never touched (most of a 49k / 21k vocabulary), so the committed files stay
a few hundred kB; a JSON beside them records the training config.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from build_engines.errors import ModelLoadError

ROW_IDS, ROW_VALUES = "token_rows.ids", "token_rows.values"


def write_sparse(
    state: dict[str, torch.Tensor],
    token_key: str,
    rows: list[int],
    files: tuple[Path, Path],
    meta: dict[str, Any],
) -> Path:
    """fp16 ``state`` with only ``rows`` of ``token_key`` kept, + ``meta`` as JSON."""
    weights, config = files
    weights.parent.mkdir(parents=True, exist_ok=True)
    half = {k: v.detach().to(torch.float16).contiguous() for k, v in state.items()}
    table = half.pop(token_key)
    ids = torch.tensor(sorted(rows), dtype=torch.int64)
    half[ROW_IDS] = ids
    half[ROW_VALUES] = table[ids].contiguous()
    save_file(half, str(weights))
    config.write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n", "utf-8")
    return weights


def read(files: tuple[Path, Path], what: str, retrain: str) -> tuple[dict[str, Any], Any]:
    """(meta, state) of a committed checkpoint, or a `ModelLoadError` saying how to retrain."""
    weights, config = files
    try:
        meta = json.loads(config.read_text("utf-8"))
        state = load_file(str(weights))
    except (OSError, ValueError) as exc:
        raise ModelLoadError(
            f"{what} checkpoint in {weights.parent} is missing or unreadable ({exc}): "
            f"retrain it with `{retrain}`"
        ) from exc
    return meta, state
