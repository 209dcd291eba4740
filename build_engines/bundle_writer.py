"""Writes the bundle's tokenizer, checksums and manifest.

The manifest is written last and atomically (`Manifest.save` renames a temp file), and
any stale manifest is removed before artifacts are touched, so a crashed build never
leaves a manifest that points at missing or half-written files.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import platform
import socket
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from build_engines.models.base import LoadedClip
from build_engines.vocab import copy_tokenizer
from engines.manifest import MANIFEST_NAME, Artifact, FileEntry, Manifest

TOOL_PACKAGES = ("torch", "transformers", "onnx", "onnxruntime", "openvino", "nncf", "tensorrt")


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def file_entry(bundle_dir: Path, rel: str) -> FileEntry:
    """Checksum and size of one bundle file (path relative to the bundle)."""
    path = bundle_dir / rel
    return FileEntry(path=rel, sha256=sha256_file(path), bytes=path.stat().st_size)


def relative(bundle_dir: Path, paths: Sequence[Path]) -> list[str]:
    """Bundle-relative POSIX paths (what the manifest stores)."""
    return [p.resolve().relative_to(bundle_dir.resolve()).as_posix() for p in paths]


def invalidate(bundle_dir: Path) -> None:
    """Remove an existing manifest before rewriting artifacts (no stale manifest on a crash)."""
    (bundle_dir / MANIFEST_NAME).unlink(missing_ok=True)


def tool_versions() -> dict[str, str]:
    """Installed versions of every tool that can shape an artifact ("absent" if missing)."""
    out: dict[str, str] = {"tensorrt": _tensorrt_version()}
    for name in TOOL_PACKAGES[:-1]:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "absent"
    return out


def _tensorrt_version() -> str:
    """JetPack's tensorrt has no pip metadata: ask the module itself."""
    from build_engines.convert_tensorrt import require_tensorrt
    from build_engines.errors import TensorRTUnavailableError

    try:
        return require_tensorrt()
    except TensorRTUnavailableError:
        return "absent"


def builder_info(extra: dict[str, str]) -> dict[str, str]:
    """Who built the bundle, with which tools, from which calibration data."""
    from build_engines import __name__ as package

    info = {
        "tool": "edge-build",
        "package": package,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "host": socket.gethostname(),
    }
    info.update({f"version.{k}": v for k, v in tool_versions().items()})
    info.update(extra)
    return info


def bundle_id(model_id: str, artifacts: Sequence[Artifact]) -> str:
    """`{model.id}-{first 12 hex of sha256 over the sorted artifact sha256s}` (the contract)."""
    digests = sorted(f.sha256 for a in artifacts for f in a.files)
    return f"{model_id}-{hashlib.sha256(''.join(digests).encode()).hexdigest()[:12]}"


def write_manifest(
    bundle_dir: Path,
    loaded: LoadedClip,
    artifacts: Sequence[Artifact],
    extra_builder: dict[str, str],
) -> Manifest:
    """Copy the tokenizer, then write manifest.json last; returns the manifest."""
    tokenizer_rels = copy_tokenizer(bundle_dir, loaded.tokenizer.sources())
    manifest = Manifest(
        bundle_id=bundle_id(loaded.info.id, artifacts),
        model=loaded.info,
        embedding_dim=loaded.embedding_dim,
        image=loaded.image,
        text=loaded.tokenizer.text_spec(loaded.context_length),
        artifacts=tuple(artifacts),
        files=tuple(file_entry(bundle_dir, rel) for rel in tokenizer_rels),
        builder=builder_info(extra_builder),
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    _check_files_exist(bundle_dir, manifest)
    manifest.save(bundle_dir)
    return manifest


def _check_files_exist(bundle_dir: Path, manifest: Manifest) -> None:
    """Never publish a manifest naming a file that is not there."""
    entries = [*manifest.files, *(f for a in manifest.artifacts for f in a.files)]
    missing = [e.path for e in entries if not (bundle_dir / e.path).is_file()]
    if missing:
        from build_engines.errors import BuildError

        raise BuildError(f"bundle {bundle_dir} is missing {missing}: the build did not finish")
