"""`edge-build kit`: everything a box without network needs to install the appliance.

Built on a host with network, copied to the box (USB stick, scp), installed there with
`sudo ./install.sh`: no index, no download. Layout of the kit folder::

    install.sh                box side: venv + `pip install --no-index` + `edge-app install`
    kit.env, kit.json         what the kit holds (Python, extras, arches, wheels, bundle)
    edge-search-src.tar.gz    the project's files (unpacked into /opt/edge-search)
    wheels/<arch>/            runtime dependencies for the box's Python and CPU + SHA256SUMS
    bundle/                   the engine bundle (checksums verified before it is copied)

The project is installed from its source tree in editable mode, as on a developer's box:
the systemd units, docs and the demo's toy bundle live in the tree, and the unit runs
`/opt/edge-search/.venv/bin/edge-app`.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from build_engines import wheelhouse
from build_engines.errors import BuildError
from build_engines.wheelhouse import Target
from engines.bundle import load_bundle, sha256_file

REPO = Path(__file__).resolve().parents[1]
BOX_SCRIPT = REPO / "scripts" / "box-install.sh"
SOURCE_NAME = "edge-search-src.tar.gz"
DEFAULT_EXTRAS = ("openvino", "ocr")
HOST_PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"


@dataclass(frozen=True)
class KitSpec:
    """What to put in a kit; `pure_cache` keeps pure-Python wheels built from sdists."""

    bundle: Path
    out: Path
    arches: Sequence[str] = wheelhouse.ARCHES
    python: str = HOST_PYTHON
    glibc: str = "2.35"
    extras: Sequence[str] = DEFAULT_EXTRAS
    pure_cache: Path | None = None
    targets: tuple[Target, ...] = field(init=False)

    def __post_init__(self) -> None:
        if not self.arches:
            raise BuildError("--arch: name at least one of " + ", ".join(wheelhouse.ARCHES))
        found = tuple(Target(a, self.python, self.glibc) for a in self.arches)
        object.__setattr__(self, "targets", found)


def build_kit(spec: KitSpec) -> dict[str, Any]:
    """Write the kit into `spec.out` (a new or empty folder); returns kit.json's content."""
    out = _fresh_folder(spec.out)
    bundle = load_bundle(spec.bundle, verify=True)  # never ship a broken bundle
    reqs = wheelhouse.requirements(REPO / "pyproject.toml", spec.extras)
    pure = spec.pure_cache or out / "wheels" / ".pure"
    arches = {t.arch: _wheels(reqs, t, out / "wheels" / t.arch, pure) for t in spec.targets}
    if spec.pure_cache is None:
        shutil.rmtree(pure, ignore_errors=True)
    shutil.copytree(bundle.dir, out / "bundle")
    _source_archive(out / SOURCE_NAME, exclude=out)
    shutil.copyfile(BOX_SCRIPT, out / "install.sh")
    (out / "install.sh").chmod(0o755)
    extras = ",".join(spec.extras)
    env = f'KIT_PYTHON={spec.python}\nKIT_EXTRAS="{extras}"\nKIT_ARCHES="{" ".join(arches)}"\n'
    (out / "kit.env").write_text(env, encoding="utf-8")
    kit = {
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": spec.python,
        "glibc": spec.glibc,
        "extras": list(spec.extras),
        "bundle": {"id": bundle.manifest.bundle_id, "model": bundle.manifest.model.id},
        "source": {"file": SOURCE_NAME, "git_commit": _git(["rev-parse", "HEAD"]).strip()},
        "wheels": arches,
    }
    (out / "kit.json").write_text(json.dumps(kit, indent=2) + "\n", encoding="utf-8")
    return kit


def _fresh_folder(out: Path) -> Path:
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise BuildError(f"{out} exists and is not an empty folder: choose a new --out")
    out.mkdir(parents=True, exist_ok=True)
    return out


def _wheels(reqs: Sequence[str], target: Target, dest: Path, pure: Path) -> list[dict[str, Any]]:
    """Download for one target, refuse torch/CUDA, write SHA256SUMS; the files' records."""
    wheels = wheelhouse.download(reqs, target, dest, pure)
    bad = wheelhouse.forbidden(wheelhouse.wheel_name(w) for w in wheels)
    if bad:
        raise BuildError(f"the runtime for {target} resolved {bad}: the box must not need them")
    records = [
        {"file": w.name, "bytes": w.stat().st_size, "sha256": sha256_file(w)} for w in wheels
    ]
    sums = "".join(f"{r['sha256']}  {r['file']}\n" for r in records)
    (dest / "SHA256SUMS").write_text(sums, encoding="utf-8")
    return records


def _source_archive(path: Path, exclude: Path) -> None:
    """The checkout's files (tracked + new, not ignored), as they are on disk now."""
    listed = _git(["ls-files", "-z", "--cached", "--others", "--exclude-standard"])
    skip = exclude.resolve()
    with tarfile.open(path, "w:gz") as tar:
        for rel in sorted(set(listed.split("\0")) - {""}):
            file = REPO / rel
            if file.is_file() and not file.resolve().is_relative_to(skip):
                tar.add(file, arcname=rel, recursive=False)


def _git(args: list[str]) -> str:
    try:
        proc = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        raise BuildError(
            f"`git {args[0]}` failed in {REPO}: the kit is made from a git checkout ({exc})"
        ) from exc
    return proc.stdout
