"""A USB stick (or folder) that holds a library pack is imported as a pack, not copied.

Why here and not in the photo-copy session: a pack's photos already have embeddings, so
the stick's import unit must not copy them as new files and encode them again. The
stick path (`edge_app.usb.commands.import_command`) asks `find_pack` first; with
``import_mode = "ask"`` the web UI's yes/no still comes first, like for any stick.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from pathlib import Path

from edge_app.packs.format import MANIFEST_NAME
from edge_app.packs.importer import PackReport, import_pack
from edge_app.settings import Settings
from edge_app.usb.detect import ImportRequest

log = logging.getLogger(__name__)


def find_pack(mount_point: Path) -> Path | None:
    """The pack at the top of the stick, or in one folder below it (``/media/sdb1/pack``)."""
    if (mount_point / MANIFEST_NAME).is_file():
        return mount_point
    try:
        found = sorted(p.parent for p in mount_point.glob(f"*/{MANIFEST_NAME}"))
    except OSError:
        return None
    if len(found) > 1:
        log.warning("%s holds %d packs: importing %s only", mount_point, len(found), found[0])
    return found[0] if found else None


def import_pack_from(
    settings: Settings, request: ImportRequest, pack: Path,
    on_done: Callable[[PackReport], None] | None = None,
) -> PackReport:  # fmt: skip
    """Import the stick's pack through a context of its own (the unit is its own process);
    the caller (`edge_app.usb.commands.import_command`) asks first where it must."""
    from edge_app.context import AppContext

    stop = threading.Event()
    previous = _stop_on_sigterm(stop)
    try:
        with AppContext.open(settings) as ctx:
            report = import_pack(ctx, pack, stop_event=stop)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    log.info("pack import from %s: %s", request.label, report.to_dict())
    if on_done is not None:
        on_done(report)
    return report


def _stop_on_sigterm(stop: threading.Event) -> signal.Handlers | None:
    """systemd stops the unit when the stick is pulled: finish the batch, keep the rest."""
    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())  # type: ignore[return-value]
