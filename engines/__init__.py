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
    from engines.registry import Preference

__all__ = ["BackendUnavailableError", "EngineError", "open"]

log = logging.getLogger(__name__)


def open(  # shadows builtins.open on purpose: the documented `engines.open(bundle_dir)`
    bundle_dir: Path,
    prefer: str | None = None,
    device: str | None = None,
    cache_dir: Path | None = None,
) -> ClipEncoder:
    """Verify the bundle and load the best runnable image + text artifacts.

    `prefer` is "backend" or "backend:precision" ("openvino:bf16" = fp32 IR with the
    bf16 hint); `device` forces a device (CPU, GPU, NPU, AUTO) instead of each backend's
    default. Raises `BackendUnavailableError` listing every artifact and its reason.
    """
    from engines import registry
    from engines.bundle import load_bundle
    from engines.clip_encoder import ClipEncoder

    bundle = load_bundle(Path(bundle_dir))
    pref = registry.Preference.parse(prefer)
    skipped: dict[str, str] = {}
    runners: dict[str, TowerRunner] = {}
    ranked = {  # rank both towers first, so an error can explain every artifact
        tower: registry.candidates(bundle.manifest, tower, pref, device, cache_dir, skipped)
        for tower in ("image", "text")
    }
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
