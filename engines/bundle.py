"""Loading and verifying an engine bundle on disk.

Every file the manifest lists (artifacts and tokenizer) is checked against its sha256
before anything runs, so a half-copied USB stick or a stale artifact fails loudly with
the file's name instead of producing silently wrong embeddings.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from engines.errors import BundleError, ChecksumError, IncompatibleArtifactError
from engines.manifest import Artifact, FileEntry, Manifest

_CHUNK = 1 << 20
REBUILD_HINT = "rebuild the bundle with `edge-build export --model {model} --out {dir}`"


@dataclass(frozen=True)
class Bundle:
    """A bundle directory together with its parsed manifest."""

    dir: Path
    manifest: Manifest

    def path(self, entry: FileEntry | str) -> Path:
        """Absolute path of a bundle file; refuses paths that escape the bundle."""
        rel = entry.path if isinstance(entry, FileEntry) else entry
        return resolve_inside(self.dir, rel)

    def rebuild_hint(self) -> str:
        return REBUILD_HINT.format(model=self.manifest.model.id, dir=self.dir)


def resolve_inside(root: Path, rel: str) -> Path:
    """Join `rel` to `root`, refusing absolute or `..` paths (a manifest is data, not trust)."""
    candidate = Path(rel)
    if candidate.is_absolute() or ".." in candidate.parts:
        raise BundleError(
            f"manifest lists {rel!r}, which points outside the bundle {root}: "
            "rebuild the bundle with `edge-build export`"
        )
    return Path(root) / candidate


def load_bundle(bundle_dir: Path, verify: bool = True) -> Bundle:
    """Read the manifest and (by default) check every file's size and sha256."""
    root = Path(bundle_dir)
    bundle = Bundle(dir=root, manifest=Manifest.load(root))
    if verify:
        verify_files(bundle)
    return bundle


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for chunk in iter(lambda: fh.read(_CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def _entries(manifest: Manifest) -> Iterator[tuple[str, FileEntry]]:
    """Every listed file with a label saying what it belongs to."""
    for artifact in manifest.artifacts:
        for entry in artifact.files:
            yield f"artifact {artifact.key}", entry
    tokenizer = set(manifest.text.tokenizer_files)
    for entry in manifest.files:
        yield ("tokenizer file" if entry.path in tokenizer else "bundle file"), entry


def verify_files(bundle: Bundle) -> None:
    """Raise `BundleError`/`ChecksumError` for the first missing or damaged file."""
    for label, entry in _entries(bundle.manifest):
        verify_entry(bundle, entry, label)


def verify_entry(bundle: Bundle, entry: FileEntry, label: str) -> None:
    path = bundle.path(entry)
    if not path.is_file():
        raise BundleError(f"{label}: {path} is missing: {bundle.rebuild_hint()}")
    size = path.stat().st_size
    if size != entry.bytes:
        raise ChecksumError(
            f"{label}: {path} has {size} bytes, manifest says {entry.bytes} "
            f"(truncated copy?): {bundle.rebuild_hint()}"
        )
    digest = sha256_file(path)
    if digest != entry.sha256:
        raise ChecksumError(
            f"{label}: {path} sha256 {digest[:12]}... does not match the manifest's "
            f"{entry.sha256[:12]}...: {bundle.rebuild_hint()}"
        )


def _version_triplet(version: str) -> tuple[int, ...]:
    """'10.3.0.26' -> (10, 3, 0): plans are tied to major.minor.patch, not the build."""
    parts = []
    for token in version.strip().split(".")[:3]:
        if not token.isdigit():
            raise ValueError(f"unparseable version {version!r}")
        parts.append(int(token))
    return tuple(parts)


def plan_incompatibility(
    artifact: Artifact, runtime_version: str, compute_capability: str
) -> str | None:
    """Why a TensorRT plan cannot be deserialised here, or None when it can.

    A plan is only valid for the TensorRT version and GPU architecture it was built
    on; deserialising a mismatched plan crashes or fails obscurely, so we compare the
    versions the builder recorded first. Pure: tested without TensorRT.
    """
    built_version = artifact.versions.get("tensorrt")
    built_cc = artifact.device.get("compute_capability")
    if not built_version or not built_cc:
        return "the manifest does not record the TensorRT version and compute capability"
    try:
        same_version = _version_triplet(built_version) == _version_triplet(runtime_version)
    except ValueError as exc:
        return str(exc)
    if not same_version:
        return f"built with TensorRT {built_version}, this machine has TensorRT {runtime_version}"
    if built_cc.strip() != compute_capability.strip():
        return f"built for GPU compute capability {built_cc}, this GPU is {compute_capability}"
    return None


def check_plan_compatible(
    artifact: Artifact, runtime_version: str, compute_capability: str, root: Path
) -> None:
    """Raise `IncompatibleArtifactError` naming the plan and what to rebuild."""
    reason = plan_incompatibility(artifact, runtime_version, compute_capability)
    if reason is not None:
        raise IncompatibleArtifactError(
            f"{Path(root) / artifact.primary.path}: {reason}; rebuild it on this device with "
            f"`edge-build export --targets tensorrt --out {root}`"
        )
