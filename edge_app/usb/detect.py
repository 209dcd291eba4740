"""Turn a udev block-device event (or a plain folder) into an `ImportRequest`.

Why udev + a systemd template unit (see docs/APPLIANCE.md): the kernel/udev already know
when a USB filesystem appears, and systemd already knows how to tie a unit's life to a
device (``BindsTo=dev-%i.device``). The udev rule ``99-edge-search-usb.rules`` starts
``edge-search-import@<kernel name>.service``; that unit mounts the partition read-only
with a tiny privileged helper and runs ``edge-app import --device`` as the unprivileged
``edge-search`` user. The long-running daemon therefore needs no netlink socket, no
pyudev monitor and no mount capability.

This module holds the one piece of policy shared by the rule and the import command:
which devices count as a "USB stick with photos" and how a device is named (its
``source_key``, stable across re-insertions so an interrupted import resumes).
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edge_app.errors import ImportSessionError

# Where the privileged helper (systemd/edge-search-usb-mount) mounts sticks read-only.
MEDIA_ROOT = Path("/run/edge-search/media")
# Values the udev rule matches on; tests check the rule file uses exactly these.
USB_BUS = "usb"
FS_USAGE = "filesystem"
DEVTYPES = ("partition", "disk")  # "disk": sticks formatted without a partition table
_LABEL_SAFE = re.compile(r"[^A-Za-z0-9._-]+")
MAX_LABEL_LEN = 40


@dataclass(frozen=True)
class ImportRequest:
    """What to import: a stable key for resuming, a human label, where it is mounted."""

    source_key: str  # "fs-uuid:0EB9-6433", "usb-serial:...", or "path:/abs/folder"
    label: str  # safe for a folder name: "PHOTOS", "Kingston_DataTraveler"
    mount_point: Path  # the directory the photos are read from
    device: str | None = None  # "/dev/sdb1" for a stick, None for a folder


def is_usb_filesystem(props: Mapping[str, str]) -> bool:
    """True for a USB block device that carries a mountable filesystem.

    Mirrors the match keys of ``99-edge-search-usb.rules`` (a test keeps them in step).
    """
    return (
        props.get("SUBSYSTEM") == "block"
        and props.get("DEVTYPE") in DEVTYPES
        and props.get("ID_BUS") == USB_BUS
        and props.get("ID_FS_USAGE") == FS_USAGE
    )


def request_from_properties(
    props: Mapping[str, str], media_root: Path = MEDIA_ROOT
) -> ImportRequest:
    """Build the request for a udev device's properties (``ENV{...}`` keys).

    Raises `ImportSessionError` for anything that is not a USB filesystem, so a
    mis-triggered unit fails loudly instead of importing from a system disk.
    """
    node = props.get("DEVNAME", "")
    if not is_usb_filesystem(props):
        raise ImportSessionError(
            f"{node or 'device'} is not a USB filesystem (SUBSYSTEM={props.get('SUBSYSTEM')}, "
            f"DEVTYPE={props.get('DEVTYPE')}, ID_BUS={props.get('ID_BUS')}, "
            f"ID_FS_USAGE={props.get('ID_FS_USAGE')}): refusing to import from it"
        )
    if not node:
        raise ImportSessionError("udev event has no DEVNAME: cannot tell which device to read")
    return ImportRequest(
        source_key=_device_key(props),
        label=_device_label(props),
        mount_point=media_root / Path(node).name,
        device=node,
    )


def request_from_device(device: Any, media_root: Path = MEDIA_ROOT) -> ImportRequest:
    """Same as `request_from_properties` for a ``pyudev.Device`` (its ``.properties``)."""
    props = {str(k): str(v) for k, v in device.properties.items()}
    return request_from_properties(props, media_root)


def request_for_device_node(node: str, mount_point: Path) -> ImportRequest:
    """Look ``/dev/sdb1`` (or ``sdb1``) up in udev; used by ``edge-app import --device``.

    By kernel name through sysfs and the udev database, not by opening ``/dev``: the
    import unit runs with ``PrivateDevices=yes`` and cannot see the device node at all.
    """
    import pyudev  # lazy: only the import command for a device needs libudev

    name = Path(node).name
    try:
        device = pyudev.Devices.from_name(pyudev.Context(), "block", name)
    except (OSError, ValueError, pyudev.DeviceNotFoundError) as exc:
        raise ImportSessionError(
            f"cannot look up {node} in udev ({exc}): is the stick still plugged in?"
        ) from exc
    request = request_from_device(device, mount_point.parent)
    return ImportRequest(request.source_key, request.label, mount_point, request.device)


def request_for_folder(path: Path) -> ImportRequest:
    """A plain folder (``edge-app import PATH``); the resolved path is its resume key."""
    root = path.resolve()
    if not root.is_dir():
        raise ImportSessionError(f"{path} is not a directory: give the folder holding the photos")
    return ImportRequest(
        source_key=f"path:{root}", label=safe_label(root.name or "folder"), mount_point=root
    )


def ensure_read_only_mount(mount_point: Path) -> None:
    """Refuse to read a stick that is not mounted read-only (we must never write to it)."""
    try:
        flags = os.statvfs(mount_point).f_flag
    except OSError as exc:
        raise ImportSessionError(
            f"{mount_point} is not accessible ({exc}): check that edge-search-usb-mount ran"
        ) from exc
    if not os.path.ismount(mount_point):
        raise ImportSessionError(f"{mount_point} is not a mount point: the stick was not mounted")
    if not flags & os.ST_RDONLY:
        raise ImportSessionError(
            f"{mount_point} is mounted read-write: remount it with -o ro before importing"
        )


def safe_label(raw: str) -> str:
    """A label usable in a folder name: ASCII letters, digits, ``._-`` only ("Été" -> "Ete")."""
    ascii_text = unicodedata.normalize("NFKD", raw).encode("ascii", "ignore").decode()
    cleaned = _LABEL_SAFE.sub("_", ascii_text).strip("._-")[:MAX_LABEL_LEN]
    return cleaned or "usb"


def _device_key(props: Mapping[str, str]) -> str:
    """Stable across re-insertion: filesystem UUID, else serial + partition number."""
    uuid = props.get("ID_FS_UUID")
    if uuid:
        return f"fs-uuid:{uuid}"
    serial = props.get("ID_SERIAL_SHORT") or props.get("ID_SERIAL")
    if serial:
        return f"usb-serial:{serial}:{props.get('ID_PART_ENTRY_NUMBER', '0')}"
    label = props.get("ID_FS_LABEL")
    if label:
        return f"fs-label:{label}"
    raise ImportSessionError(
        f"{props.get('DEVNAME')} has no filesystem UUID, serial or label: "
        "cannot recognise it again to resume; import it with 'edge-app import PATH' instead"
    )


def _device_label(props: Mapping[str, str]) -> str:
    raw = props.get("ID_FS_LABEL") or props.get("ID_MODEL") or props.get("ID_VENDOR") or "usb"
    return safe_label(raw)
