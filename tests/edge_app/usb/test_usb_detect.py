"""udev event -> ImportRequest -> import session, plus real read-only loop-device mounts.

Real pyudev objects exist here only for loop devices (no USB stick in CI), so a USB
stick's udev properties are a FAKE mapping, named as such, copied from `udevadm info`
of a real stick.
"""

from __future__ import annotations

import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import pyudev

from edge_app.errors import ImportSessionError, NotFoundError
from edge_app.library.store import Library
from edge_app.settings import Settings
from edge_app.usb.commands import answer_import, await_approval, pending_imports
from edge_app.usb.detect import (
    ensure_read_only_mount,
    is_usb_filesystem,
    request_from_device,
    request_from_properties,
    safe_label,
)
from edge_app.usb.session import ImportSession
from tests.edge_app.usb.usb_fixtures import expected_copies, sha256, write_stick

REPO = Path(__file__).resolve().parents[3]
MOUNT_HELPER = REPO / "systemd" / "edge-search-usb-mount"

FAKE_USB_STICK_PROPS = {  # FAKE: `udevadm info /dev/sdb1` of a SanDisk stick, trimmed
    "ACTION": "add",
    "SUBSYSTEM": "block",
    "DEVTYPE": "partition",
    "DEVNAME": "/dev/sdb1",
    "ID_BUS": "usb",
    "ID_VENDOR": "SanDisk",
    "ID_MODEL": "Cruzer Blade",
    "ID_SERIAL_SHORT": "4C530001130920116242",
    "ID_PART_ENTRY_NUMBER": "1",
    "ID_FS_USAGE": "filesystem",
    "ID_FS_TYPE": "vfat",
    "ID_FS_UUID": "0EB9-6433",
    "ID_FS_LABEL": "CLASS TRIP",
}


def test_usb_stick_event_becomes_request(tmp_path: Path) -> None:
    req = request_from_properties(FAKE_USB_STICK_PROPS, media_root=tmp_path)
    assert req.source_key == "fs-uuid:0EB9-6433"
    assert req.label == "CLASS_TRIP"
    assert req.device == "/dev/sdb1"
    assert req.mount_point == tmp_path / "sdb1"


def test_key_falls_back_to_serial_then_label() -> None:
    no_uuid = {k: v for k, v in FAKE_USB_STICK_PROPS.items() if k != "ID_FS_UUID"}
    assert request_from_properties(no_uuid).source_key == "usb-serial:4C530001130920116242:1"
    label_only = {k: v for k, v in no_uuid.items() if not k.startswith("ID_SERIAL")}
    assert request_from_properties(label_only).source_key == "fs-label:CLASS TRIP"
    anonymous = {k: v for k, v in label_only.items() if k != "ID_FS_LABEL"}
    with pytest.raises(ImportSessionError, match="edge-app import PATH"):
        request_from_properties(anonymous)


@pytest.mark.parametrize(
    ("key", "value"),
    [("ID_BUS", "ata"), ("ID_FS_USAGE", "raid"), ("DEVTYPE", "usb_device"), ("SUBSYSTEM", "usb")],
)
def test_non_usb_filesystems_are_refused(key: str, value: str) -> None:
    props = {**FAKE_USB_STICK_PROPS, key: value}
    assert not is_usb_filesystem(props)
    with pytest.raises(ImportSessionError, match="refusing to import"):
        request_from_properties(props)


def test_real_udev_device_of_a_system_disk_is_refused() -> None:
    loops = sorted(Path("/sys/class/block").glob("loop*"))
    if not loops:
        pytest.skip("no loop block device in /sys/class/block to look up with pyudev")
    device = pyudev.Devices.from_name(pyudev.Context(), "block", loops[0].name)
    with pytest.raises(ImportSessionError, match="not a USB filesystem"):
        request_from_device(device)


def test_labels_are_safe_folder_names() -> None:
    assert safe_label("../../etc/passwd") == "etc_passwd"
    assert safe_label("Été 2024 / plage") == "Ete_2024_plage"
    assert safe_label("...") == "usb"
    assert len(safe_label("x" * 200)) == 40


def test_udev_event_imports_end_to_end(tmp_path: Path) -> None:
    """FAKE udev event + a real folder standing in for the mounted stick."""
    request = request_from_properties(FAKE_USB_STICK_PROPS, media_root=tmp_path / "media")
    write_stick(request.mount_point)
    settings = Settings(data_dir=tmp_path / "data")
    with Library(settings.db_path) as library:
        result = ImportSession(library, settings, request).run()
        row = library.list_imports()[0]
    assert result.state == "done" and result.copied == len(expected_copies())
    assert row.source_key == "fs-uuid:0EB9-6433" and row.label == "CLASS_TRIP"
    assert row.dest_dir.endswith("_CLASS_TRIP")


def test_ask_mode_waits_for_the_web_ui(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", import_mode="ask")
    request = request_from_properties(FAKE_USB_STICK_PROPS, media_root=tmp_path)
    answers: list[bool] = []
    waiter = threading.Thread(
        target=lambda: answers.append(await_approval(settings, request, lambda: False, 0.01))
    )
    waiter.start()
    while not pending_imports(settings):
        waiter.join(0.01)
    [pending] = pending_imports(settings)
    assert (pending.name, pending.label) == ("sdb1", "CLASS_TRIP")
    answer_import(settings, "sdb1", approve=True)
    waiter.join()
    assert answers == [True] and pending_imports(settings) == []
    with pytest.raises(NotFoundError, match="waiting for an answer"):
        answer_import(settings, "sdb1", approve=False)


def test_rw_folder_is_not_accepted_as_a_stick_mount(tmp_path: Path) -> None:
    with pytest.raises(ImportSessionError, match="not a mount point"):
        ensure_read_only_mount(tmp_path)


# ------------------------------------------------------------ real loop devices
def _sh(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), capture_output=True, text=True, check=False)


@pytest.fixture
def loop_image(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """A real ext4 image holding the stick tree, attached to a loop device."""
    if not shutil.which("losetup") or not shutil.which("mkfs.ext4"):
        pytest.skip("losetup / mkfs.ext4 not installed (apt-get install mount e2fsprogs)")
    tree = write_stick(tmp_path / "tree")
    image = tmp_path / "stick.img"
    made = _sh("mkfs.ext4", "-q", "-L", "TRIP", "-d", str(tree), str(image), "8M")
    assert made.returncode == 0, made.stderr
    attached = _sh("losetup", "--find", "--show", str(image))
    if attached.returncode != 0:
        pytest.skip(f"cannot attach a loop device here: {attached.stderr.strip()}")
    loop = Path(attached.stdout.strip())
    try:
        yield image, loop
    finally:
        _sh("losetup", "-d", str(loop))


def test_loop_ext4_stick_mounted_read_only_by_helper_and_imported(
    loop_image: tuple[Path, Path], tmp_path: Path
) -> None:
    image, loop = loop_image
    before = sha256(image)
    media = tmp_path / "media"
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "EDGE_MEDIA_ROOT": str(media)}
    env["EDGE_IMPORT_USER"] = "root"
    mounted = subprocess.run(
        [str(MOUNT_HELPER), "mount", loop.name], env=env, capture_output=True, text=True
    )
    if mounted.returncode != 0 and "permission denied" in mounted.stderr.lower():
        pytest.skip(f"mount is not permitted in this container: {mounted.stderr.strip()}")
    assert mounted.returncode == 0, mounted.stderr
    try:
        uuid = _sh("blkid", "-o", "value", "-s", "UUID", str(loop)).stdout.strip()
        fake_props = {**FAKE_USB_STICK_PROPS, "DEVNAME": str(loop), "ID_FS_UUID": uuid}
        request = request_from_properties(fake_props, media_root=media)
        ensure_read_only_mount(request.mount_point)  # the helper really mounted it ro
        settings = Settings(data_dir=tmp_path / "data")
        with Library(settings.db_path) as library:
            result = ImportSession(library, settings, request).run()
        assert result.state == "done" and result.copied == len(expected_copies())
    finally:
        unmounted = subprocess.run(
            [str(MOUNT_HELPER), "unmount", loop.name], env=env, capture_output=True, text=True
        )
    assert unmounted.returncode == 0, unmounted.stderr
    assert not (media / loop.name).exists()
    _sh("blockdev", "--setrw", str(loop))
    assert sha256(image) == before  # not one byte of the stick changed (noload, setro)


def test_loop_fat_stick(tmp_path: Path) -> None:
    """FAT is what real sticks use; needs the kernel's vfat driver to mount."""
    filesystems = Path("/proc/filesystems").read_text()
    if "vfat" not in filesystems.split():
        pytest.skip(
            "the running kernel has no vfat driver (/proc/filesystems lists no 'vfat'; "
            "modprobe is unavailable in this container), so a FAT image cannot be mounted"
        )
    if not shutil.which("mkfs.vfat") or not shutil.which("mcopy"):
        pytest.skip("mkfs.vfat / mcopy missing: apt-get install dosfstools mtools")
    tree = write_stick(tmp_path / "tree")
    image = tmp_path / "fat.img"
    assert _sh("mkfs.vfat", "-C", "-n", "PHOTOS", str(image), "8192").returncode == 0
    copied = _sh("mcopy", "-s", "-i", str(image), *map(str, tree.iterdir()), "::/")
    assert copied.returncode == 0, copied.stderr
    attached = _sh("losetup", "--find", "--show", str(image))
    if attached.returncode != 0:
        pytest.skip(f"cannot attach a loop device here: {attached.stderr.strip()}")
    loop = Path(attached.stdout.strip())
    media = tmp_path / "media"
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "EDGE_MEDIA_ROOT": str(media)}
    env["EDGE_IMPORT_USER"] = "root"
    try:
        mounted = subprocess.run(
            [str(MOUNT_HELPER), "mount", loop.name], env=env, capture_output=True, text=True
        )
        assert mounted.returncode == 0, mounted.stderr
        settings = Settings(data_dir=tmp_path / "data")
        props = {**FAKE_USB_STICK_PROPS, "DEVNAME": str(loop)}
        request = request_from_properties(props, media_root=media)
        with Library(settings.db_path) as library:
            result = ImportSession(library, settings, request).run()
        assert result.state == "done" and result.copied == len(expected_copies())
    finally:
        subprocess.run([str(MOUNT_HELPER), "unmount", loop.name], env=env, check=False)
        _sh("losetup", "-d", str(loop))
