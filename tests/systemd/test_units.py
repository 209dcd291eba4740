"""systemd units, udev rule, tmpfiles/sysusers, mount helper and the installer.

`systemd-analyze verify` and `security --offline` run against a temporary root that holds
the installed files, the distribution's own units (for sysinit.target & co) and stub
executables at the ExecStart= paths, because verify insists the binaries exist.
"""

from __future__ import annotations

import configparser
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from edge_app.appliance.installer import FILES, install, uninstall
from edge_app.usb.detect import DEVTYPES, FS_USAGE, USB_BUS, is_usb_filesystem
from tests.systemd.systemd_tools import analyzable_root

REPO = Path(__file__).resolve().parents[2]
SYSTEMD = REPO / "systemd"
DAEMON = SYSTEMD / "edge-search.service"
IMPORT = SYSTEMD / "edge-search-import@.service"
RULE = SYSTEMD / "99-edge-search-usb.rules"


def _service(path: Path) -> dict[str, list[str]]:
    """[Service] section as key -> all values (systemd allows repeated keys)."""
    values: dict[str, list[str]] = {}
    section = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if line.startswith("["):
            section = line
        elif section == "[Service]" and "=" in line and not line.startswith("#"):
            key, _, value = line.partition("=")
            values.setdefault(key, []).append(value)
    return values


@pytest.fixture(scope="module")
def unit_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return analyzable_root(tmp_path_factory)


@pytest.mark.parametrize("unit", ["edge-search.service", "edge-search-import@sdb1.service"])
def test_systemd_analyze_verify_is_clean(unit_root: Path, unit: str) -> None:
    res = subprocess.run(
        ["systemd-analyze", "verify", f"--root={unit_root}", "--man=no",
         f"/etc/systemd/system/{unit}"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert res.stderr.strip() == "", f"warnings (unknown keys, bad values): {res.stderr}"


@pytest.mark.parametrize(
    ("unit", "max_exposure"),
    [("edge-search.service", 2.0), ("edge-search-import@sdb1.service", 1.0)],
)
def test_security_exposure_is_low(unit_root: Path, unit: str, max_exposure: float) -> None:
    res = subprocess.run(
        ["systemd-analyze", "security", "--offline=yes", f"--root={unit_root}", "--man=no",
         "--no-pager", f"/etc/systemd/system/{unit}"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    match = re.search(r"Overall exposure level for \S+: ([0-9.]+)", res.stdout)
    assert match, res.stdout + res.stderr
    assert float(match.group(1)) <= max_exposure, res.stdout


COMMON_HARDENING = {
    "NoNewPrivileges": "yes",
    "CapabilityBoundingSet": "",
    "AmbientCapabilities": "",
    "ProtectSystem": "strict",
    "ReadWritePaths": "/var/lib/edge-search",
    "ProtectHome": "yes",
    "PrivateTmp": "yes",
    "ProtectKernelTunables": "yes",
    "ProtectKernelModules": "yes",
    "ProtectKernelLogs": "yes",
    "ProtectControlGroups": "yes",
    "User": "edge-search",
}


@pytest.mark.parametrize("unit", [DAEMON, IMPORT])
def test_hardening_options_present(unit: Path) -> None:
    service = _service(unit)
    for key, value in COMMON_HARDENING.items():
        assert service.get(key) == [value], f"{unit.name}: {key}={service.get(key)}"
    assert "MemoryMax" in service and "MemoryHigh" in service


def test_daemon_unit_contract() -> None:
    service = _service(DAEMON)
    assert service["Type"] == ["notify"] and service["WatchdogSec"] == ["60"]
    assert service["Restart"] == ["on-failure"]
    assert service["StateDirectory"] == ["edge-search"]
    assert service["ExecStart"] == [
        "/opt/edge-search/.venv/bin/edge-app serve --config /etc/edge-search/config.toml"
    ]
    assert service["RestrictAddressFamilies"] == ["AF_UNIX AF_INET AF_INET6"]  # no netlink


def test_import_unit_privilege_split() -> None:
    """Only the mount helper runs as root (+); the copy has no network, devices or caps."""
    service = _service(IMPORT)
    root_cmds = service["ExecStartPre"] + service["ExecStopPost"]
    assert all(cmd.lstrip("-").startswith("+") for cmd in root_cmds)
    assert not service["ExecStart"][0].startswith(("+", "!"))
    assert "--device /dev/%i" in service["ExecStart"][0]
    for key in ("PrivateNetwork", "PrivateDevices", "MemoryDenyWriteExecute"):
        assert service[key] == ["yes"]
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.read_string(IMPORT.read_text().replace("%", "%%"))
    assert unit["Unit"]["BindsTo"] == "dev-%%i.device"


def _udev_rules(path: Path) -> list[list[tuple[str, str, str]]]:
    """Parse rules into (key, operator, value) triples; fails on anything malformed."""
    token = re.compile(r'\s*([A-Z_]+(?:\{[A-Za-z_]+\})?)\s*(==|!=|\+=|-=|:=|=)\s*"([^"]*)"\s*(,|$)')
    rules = []
    for line in path.read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        pos, triples = 0, []
        while pos < len(line):
            match = token.match(line, pos)
            assert match, f"unparsable udev rule at column {pos}: {line[pos:]!r}"
            key, op, value = match.group(1, 2, 3)
            triples.append((str(key), str(op), str(value)))
            pos = match.end()
        rules.append(triples)
    return rules


def _rule_matches(rule: list[tuple[str, str, str]], props: dict[str, str]) -> bool:
    for key, op, value in rule:
        if op != "==":
            continue
        name = key[4:-1] if key.startswith("ENV{") else key
        if props.get(name) not in value.split("|"):
            return False
    return True


STICK = {"ACTION": "add", "SUBSYSTEM": "block", "DEVTYPE": "partition", "ID_BUS": "usb",
         "ID_FS_USAGE": "filesystem"}  # fmt: skip


@pytest.mark.parametrize(
    "props",
    [
        STICK,
        {**STICK, "DEVTYPE": "disk"},  # superfloppy stick
        {**STICK, "ID_BUS": "ata"},  # internal disk
        {**STICK, "ID_FS_USAGE": "raid"},
        {**STICK, "DEVTYPE": "disk", "ID_FS_USAGE": ""},  # the whole stick (partition table)
        {**STICK, "ACTION": "remove"},
    ],
)
def test_udev_rule_and_python_predicate_agree(props: dict[str, str]) -> None:
    [rule] = _udev_rules(RULE)
    python_says = is_usb_filesystem(props) and props["ACTION"] == "add"
    assert _rule_matches(rule, props) == python_says


def test_udev_rule_starts_the_import_unit() -> None:
    [rule] = _udev_rules(RULE)
    assert ("TAG", "+=", "systemd") in rule
    assert ("ENV{SYSTEMD_WANTS}", "+=", "edge-search-import@%k.service") in rule
    assert ("ENV{ID_BUS}", "==", USB_BUS) in rule and ("ENV{ID_FS_USAGE}", "==", FS_USAGE) in rule
    assert ("ENV{DEVTYPE}", "==", "|".join(DEVTYPES)) in rule


def test_udevadm_loads_the_rule(tmp_path: Path) -> None:
    """udevadm (v252 has no `verify`) parses rules when it runs `test`; no errors allowed."""
    if not shutil.which("udevadm"):
        pytest.skip("udevadm missing: apt-get install udev")
    loops = sorted(Path("/sys/class/block").glob("loop*"))
    if not loops:
        pytest.skip("no block device in /sys/class/block for `udevadm test`")
    installed = Path("/etc/udev/rules.d/99-edge-search-usb.rules")
    if installed.exists():
        pytest.skip(f"{installed} already exists; not overwriting a live system's rule")
    installed.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(RULE, installed)
    try:
        res = subprocess.run(
            ["udevadm", "test", "--action=add", f"/sys/class/block/{loops[0].name}"],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
    finally:
        installed.unlink()
    output = res.stdout + res.stderr
    assert "99-edge-search-usb.rules" in output, output[-2000:]
    ours = [ln for ln in output.splitlines() if "99-edge-search-usb.rules" in ln]
    assert not any(w in ln.lower() for ln in ours for w in ("invalid", "error", "unknown")), ours


def test_mount_helper_is_valid_sh_and_rejects_bad_names() -> None:
    helper = SYSTEMD / "edge-search-usb-mount"
    assert subprocess.run(["sh", "-n", str(helper)], check=False).returncode == 0
    res = subprocess.run([str(helper), "mount", "../sda1"], capture_output=True, text=True)
    assert res.returncode == 1 and "invalid device name" in res.stderr


def test_tmpfiles_and_sysusers_are_accepted_by_systemd(tmp_path: Path) -> None:
    install(tmp_path, enable=True)
    passwd = (tmp_path / "etc/passwd").read_text()
    assert passwd.startswith("edge-search:") and "/usr/sbin/nologin" in passwd
    state = tmp_path / "var/lib/edge-search"
    assert state.is_dir() and oct(state.stat().st_mode & 0o777) == "0o750"
    assert (tmp_path / "run/edge-search/media").is_dir()
    wants = tmp_path / "etc/systemd/system/multi-user.target.wants/edge-search.service"
    assert wants.is_symlink()
    helper = tmp_path / "usr/local/lib/edge-search/edge-search-usb-mount"
    assert helper.stat().st_mode & 0o777 == 0o755


def test_uninstall_reverses_install_and_keeps_data(tmp_path: Path) -> None:
    install(tmp_path)
    (tmp_path / "var/lib/edge-search/library.db").write_bytes(b"precious")
    config = tmp_path / "etc/edge-search/config.toml"
    config.write_text('import_mode = "ask"\n')
    install(tmp_path)  # idempotent; keeps the edited config
    assert config.read_text() == 'import_mode = "ask"\n'
    done = uninstall(tmp_path)
    assert all(not (tmp_path / f.dest).exists() for f in FILES)
    assert not (
        tmp_path / "etc/systemd/system/multi-user.target.wants/edge-search.service"
    ).exists()
    assert (tmp_path / "var/lib/edge-search/library.db").read_bytes() == b"precious"
    assert any("removed" in line for line in done)
    uninstall(tmp_path, purge=True)
    assert not (tmp_path / "var/lib/edge-search").exists() and not config.exists()
