"""The pre-built toy-shapes bundle that the demo ships, and where it came from.

Why a committed bundle rather than a torch-free exporter: the bundle is written by the
real builder (`build_bundle`, parity-gated against PyTorch), so there is one exporter to
trust, and a test re-checks it against the checkpoint on every run. A second, hand-written
exporter would be a second model implementation to keep in step.

Why OpenVINO int8w only: the text tower's token table has 49408 rows, of which the
toy captions use about twenty; the rest are seeded random values (incompressible), so any
fp32 copy of the text tower is 13 MB, and ONNX + OpenVINO fp32 together 28 MB. OpenVINO's
int8-weights IR is 5 MB in all, is what the runtime picks on a CPU anyway (int8w before
fp32), and passes its gate (min cosine >= 0.995 vs PyTorch fp32). ONNX Runtime has no
int8-weights form here, so a `.[onnx]`-only install builds its own bundle or gets one.

Regenerate (builder venv; the test `tests/build_engines/test_demo_bundle.py` says when)::

    python -m build_engines.demo_bundle
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

from build_engines.models import toy_shapes
from engines.bundle import sha256_file
from engines.manifest import MANIFEST_NAME

MODEL = "toy-shapes"
TARGETS = ("openvino",)
PRECISIONS = ("int8w",)
PROVENANCE_NAME = "PROVENANCE.json"
REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / "edge_app" / "data" / MODEL
COMMAND = "python -m build_engines.demo_bundle"


def checkpoint_hashes() -> dict[str, str]:
    """sha256 of the committed checkpoint files the bundle is built from."""
    files = (toy_shapes.WEIGHTS_NAME, toy_shapes.CONFIG_NAME)
    return {name: sha256_file(toy_shapes.DATA_DIR / name) for name in files}


def provenance(bundle_dir: Path) -> dict[str, Any]:
    """What a reader needs to trust the committed bundle, and to reproduce it."""
    manifest = json.loads((bundle_dir / MANIFEST_NAME).read_text(encoding="utf-8"))
    return {
        "what": "toy-shapes CLIP (synthetic: coloured shapes only), for `edge-app demo`",
        "command": COMMAND,
        "builder": f"build_engines.api.build_bundle({MODEL!r}, targets={list(TARGETS)}, "
        f"precisions={list(PRECISIONS)})",
        "checkpoint": checkpoint_hashes(),
        "git_commit": _git_head(),
        "bundle_id": manifest["bundle_id"],
        "manifest_sha256": sha256_file(bundle_dir / MANIFEST_NAME),
        "note": "every file's sha256, parity and tool versions are in manifest.json",
    }


def rebuild(out: Path = DEFAULT_OUT) -> Path:
    """Build the bundle into `out` (replaced only once the new one is complete)."""
    from build_engines.api import build_bundle  # torch: only when rebuilding

    partial = out.with_name(out.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    build_bundle(MODEL, partial, targets=TARGETS, precisions=PRECISIONS)
    text = json.dumps(provenance(partial), indent=2, sort_keys=True) + "\n"
    (partial / PROVENANCE_NAME).write_text(text, encoding="utf-8")
    shutil.rmtree(out, ignore_errors=True)
    partial.replace(out)
    return out


def _git_head() -> str:
    try:
        proc = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True, check=True
        )
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    return proc.stdout.strip()


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"default {DEFAULT_OUT}")
    print(rebuild(p.parse_args(argv).out))


if __name__ == "__main__":
    main()
