"""The library/status page's data: progress, counts, skipped files, engine, system load.

psutil calls are cheap and non-blocking (``cpu_percent(interval=None)`` compares with the
previous call) so /api/status can be polled every couple of seconds from several phones.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psutil

if TYPE_CHECKING:
    from webui.state import WebState

log = logging.getLogger(__name__)
MAX_SKIPPED = 200


def _temperature_c() -> float | None:
    """Hottest sensor reading (Jetson thermal zones, NUC coretemp); None where unsupported."""
    sensors = getattr(psutil, "sensors_temperatures", None)
    if sensors is None:
        return None
    try:
        readings = sensors()
    except OSError as exc:  # a sensor file that vanished: report, do not fail the page
        log.warning("event=temperature_unavailable error=%r", exc)
        return None
    values = [t.current for entries in readings.values() for t in entries if t.current]
    return round(max(values), 1) if values else None


def system_info(data_dir: Path) -> dict[str, Any]:
    """CPU, memory, disk of the data dir, temperature."""
    mem = psutil.virtual_memory()
    disk = psutil.disk_usage(str(data_dir))
    return {
        "cpu_percent": psutil.cpu_percent(interval=None),
        "cpu_count": psutil.cpu_count(),
        "memory_percent": mem.percent,
        "memory_used_bytes": mem.used,
        "memory_total_bytes": mem.total,
        "disk_percent": disk.percent,
        "disk_free_bytes": disk.free,
        "disk_total_bytes": disk.total,
        "temperature_c": _temperature_c(),
        "load_avg": [round(x, 2) for x in psutil.getloadavg()],
    }


def _gib(n: int) -> str:
    return f"{n / 2**30:.1f} GiB"


def system_display(info: dict[str, Any]) -> list[tuple[str, str]]:
    """Rows for the status page (the JSON keeps raw numbers)."""
    temp = info["temperature_c"]
    return [
        ("CPU", f"{info['cpu_percent']:.0f} % of {info['cpu_count']} cores"),
        ("Memory", f"{info['memory_percent']:.0f} % of {_gib(info['memory_total_bytes'])}"),
        ("Disk", f"{_gib(info['disk_free_bytes'])} free of {_gib(info['disk_total_bytes'])}"),
        ("Temperature", "n/a" if temp is None else f"{temp:.0f} °C"),
        ("Load", " ".join(str(x) for x in info["load_avg"])),
    ]


def _skipped(state: WebState) -> list[dict[str, str]]:
    """Files the indexer could not use, with the reason a person can act on."""
    ctx = state.context
    rows = [
        {"path": p.rel_path, "reason": p.error_reason or "unknown"}
        for p in ctx.reader.list_errors(limit=MAX_SKIPPED)
    ]
    known = {r["path"] for r in rows}
    recent = ctx.progress.snapshot().get("recent_errors", [])
    rows.extend(r for r in recent if r.get("path") not in known)
    return rows[:MAX_SKIPPED]


def _engine(state: WebState) -> dict[str, str]:
    """Bundle id and backend actually running (from `ClipEncoder.describe()`)."""
    encoder = state.context.encoder
    info = {"bundle_id": str(encoder.bundle_id)}
    info.update({str(k): str(v) for k, v in encoder.describe().items()})
    return info


def _counts(state: WebState) -> dict[str, int]:
    ctx = state.context
    counts = dict(ctx.reader.counts_by_status())
    counts["photos"] = sum(counts.values())
    return counts


def status(state: WebState) -> dict[str, Any]:
    """Everything /api/status returns."""
    from edge_app.enrich.passes import tag_progress

    ctx = state.context
    return {
        "progress": ctx.progress.snapshot(),
        "counts": _counts(state),
        "skipped": _skipped(state),
        "engine": _engine(state),
        "system": system_info(state.settings.data_dir),
        "jobs": state.jobs.snapshot() if state.jobs is not None else None,
        "guest_access": state.settings.guest_access,
        # sets, labels, tags, tagged_photos, waiting_sets (edge_app.enrich.passes)
        "tags": tag_progress(ctx.reader, ctx.encoder.bundle_id, state.settings.tag_builtin_sets),
        "ocr": ctx.reader.ocr_counts(),  # done, no_text, failed, pending (photos)
    }


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    s = int(round(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60} s"
    return f"{s // 3600} h {(s % 3600) // 60} min"


def status_for_page(state: WebState) -> dict[str, Any]:
    """`status` plus display strings for the server-rendered page."""
    data = status(state)
    progress = dict(data["progress"])
    rate = progress.get("rate") or 0.0
    progress["rate_display"] = f"{rate:.1f} photos/s" if rate else "–"
    progress["eta_display"] = _duration(progress.get("eta_s"))
    data["progress"] = progress
    data["system_display"] = system_display(data["system"])
    model = getattr(getattr(state.context.encoder, "manifest", None), "model", None)
    data["model_note"] = str(getattr(model, "note", "") or "")
    data["model_id"] = str(getattr(model, "id", "") or "")
    return data
