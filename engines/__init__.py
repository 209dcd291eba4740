"""Runtime side of edge photo search: load an engine bundle and encode images/texts.

`engines.open(bundle_dir)` is the entry point: the manifest lists the artifacts, the
registry says which backends can run here, and the best image/text pair is loaded
(tensorrt > openvino > onnxruntime; fp16 on GPUs, fp32 on CPUs). Backends are imported
lazily, so `import engines` is cheap and never pulls torch.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from engines.errors import BackendUnavailableError, EngineError

if TYPE_CHECKING:
    from engines.base import TowerRunner
    from engines.clip_encoder import ClipEncoder
    from engines.cpu_features import CpuFeatures
    from engines.manifest import Manifest
    from engines.registry import Candidate, Preference

__all__ = ["BackendUnavailableError", "EngineError", "open"]

log = logging.getLogger(__name__)


def open(  # shadows builtins.open on purpose: the documented `engines.open(bundle_dir)`
    bundle_dir: Path,
    prefer: str | None = None,
    device: str | None = None,
    cache_dir: Path | None = None,
    cpu: CpuFeatures | None = None,
    threads: int | None = None,
) -> ClipEncoder:
    """Verify the bundle and load the best runnable image + text artifacts.

    `prefer` is "backend" or "backend:precision" ("openvino:bf16" = fp32 IR with the
    bf16 hint); `device` forces a device (CPU, GPU, NPU, AUTO) instead of each backend's
    default. With no preference, a faster CPU precision (int8 with VNNI/AMX, bf16 with
    native BF16) is chosen when the bundle records a retrieval agreement >= 0.95 for it;
    `cpu` injects the CPU flags (default: /proc/cpuinfo); `threads` caps each tower's
    CPU threads (a cluster worker given one core must not use all of them). Raises
    `BackendUnavailableError` listing every artifact and its reason.
    """
    from engines import registry
    from engines.bundle import load_bundle
    from engines.clip_encoder import ClipEncoder

    bundle = load_bundle(Path(bundle_dir))
    pref = registry.Preference.parse(prefer)
    skipped: dict[str, str] = {}
    runners: dict[str, TowerRunner] = {}
    ranked = {  # rank both towers first, so an error can explain every artifact
        tower: registry.candidates(
            bundle.manifest, tower, pref, device, cache_dir, skipped, threads
        )
        for tower in ("image", "text")
    }
    if pref == registry.Preference() and (device is None or device.upper() == "CPU"):
        ranked = _fast_first(bundle.manifest, ranked, cpu)
    for tower, candidates in ranked.items():
        runner = registry.load_first(bundle.dir, candidates, skipped)
        if runner is None:
            for r in runners.values():
                r.close()
            raise registry.unavailable_error(bundle.manifest, skipped, prefer)
        runners[tower] = runner
    _check_precision(runners, pref, prefer)
    _log_choice(runners, skipped)
    return ClipEncoder(bundle, runners["image"], runners["text"])


def _fast_first(
    manifest: Manifest, ranked: dict[str, list[Candidate]], cpu: CpuFeatures | None
) -> dict[str, list[Candidate]]:
    """Put the fastest faithful CPU candidates first (see `engines.fast_default`)."""
    from engines.cpu_features import CpuFeatures
    from engines.fast_default import with_fast_first

    features = cpu if cpu is not None else CpuFeatures.detect()
    out = {}
    for tower, cands in ranked.items():
        out[tower], notes = with_fast_first(cands, features)
        for note in notes:
            log.info("default precision for %s of %s: %s", tower, manifest.bundle_id, note)
    return out


def _check_precision(runners: dict[str, TowerRunner], pref: Preference, prefer: str | None) -> None:
    """An explicit precision must be honoured by at least one tower (int8 text may stay fp32)."""
    if pref.precision and all(r.artifact.precision != pref.precision for r in runners.values()):
        got = {t: r.artifact.precision for t, r in runners.items()}
        for r in runners.values():
            r.close()
        raise BackendUnavailableError(
            f"prefer={prefer!r}: the bundle has no loadable {pref.precision} artifact for this "
            f"backend (would run {got}); rebuild with `edge-build export --precision {pref.precision}`"
        )


def _log_choice(runners: dict[str, TowerRunner], skipped: dict[str, str]) -> None:
    for tower, runner in runners.items():
        log.info("%s tower: %s", tower, runner.describe())
    for key, reason in skipped.items():
        log.info("skipped %s: %s", key, reason)
