"""`edge-build kit` and the kit's install.sh: a box with no network installs the appliance
from the kit's wheels (`pip install --no-index`, inside a network namespace where this
machine allows one), then `edge-app install` into a test root, then searches offline."""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from build_engines import wheelhouse
from build_engines.errors import BuildError
from build_engines.install_kit import BOX_SCRIPT, HOST_PYTHON, KitSpec, build_kit
from build_engines.wheelhouse import Target, WheelhouseError
from edge_app.demo import PREBUILT_BUNDLE
from engines.errors import ChecksumError

REPO = Path(__file__).resolve().parents[2]
PURE_CACHE = REPO / ".cache" / "pure-wheels"  # sdist-only pure wheels (sdnotify), built once
HOST_ARCH = platform.machine()
VENV_LIMIT = 1 << 30


def _offline() -> list[str]:
    """`unshare -n` (a new network namespace: no interface but lo) where this user may."""
    if shutil.which("unshare") is None:
        return []
    probe = subprocess.run(["unshare", "-n", "true"], capture_output=True, check=False)
    return ["unshare", "-n"] if probe.returncode == 0 else []


def _box(argv: list[str]) -> subprocess.CompletedProcess[str]:
    """Run a command as on the box: offline where possible, with this Python as the box's."""
    env = {**os.environ, "PYTHON": sys.executable}
    return subprocess.run(
        [*_offline(), *argv], env=env, capture_output=True, text=True, timeout=900
    )


def test_the_kit_builder_needs_no_torch() -> None:
    """`edge-build kit` runs in the lean .venv-app (README): no torch on its import path."""
    code = (
        "import sys; import build_engines.cli, build_engines.install_kit; "
        "build_engines.cli.parser(); assert 'torch' not in sys.modules, 'torch imported'"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_targets_check_their_input() -> None:
    target = Target("aarch64", "3.11", "2.28")
    assert target.platforms()[0] == "manylinux_2_28_aarch64"
    assert target.platforms()[-2:] == ["manylinux_2_17_aarch64", "manylinux2014_aarch64"]
    assert "cp311" in target.pip_args()
    for bad in ({"arch": "armv7l"}, {"python": "3"}, {"glibc": "2.5"}):
        with pytest.raises(WheelhouseError, match="expected|choose"):
            Target(**{"arch": "x86_64", "python": "3.11", **bad})


def test_requirements_name_unknown_extras() -> None:
    reqs = wheelhouse.requirements(REPO / "pyproject.toml", ["openvino"])
    assert any(r.startswith("openvino") for r in reqs) and any("setuptools" in r for r in reqs)
    assert not wheelhouse.forbidden(r.split(">")[0].split("=")[0] for r in reqs)
    with pytest.raises(WheelhouseError, match="extras \\['gpu'\\]"):
        wheelhouse.requirements(REPO / "pyproject.toml", ["gpu"])


def test_a_wheel_built_here_must_be_pure_python() -> None:
    """sdist-only packages are built on the host: only a pure wheel runs on the box."""
    target = Target("aarch64", "3.11")
    wheelhouse.require_pure(Path("sdnotify-0.3.2-py3-none-any.whl"), "sdnotify", target)
    compiled = Path("psutil-7.0-cp311-cp311-manylinux_2_17_x86_64.whl")
    with pytest.raises(WheelhouseError, match="psutil has no wheel for .*aarch64.*not pure"):
        wheelhouse.require_pure(compiled, "psutil", target)


def test_kit_refuses_a_used_folder_and_a_broken_bundle(tmp_path: Path) -> None:
    used = tmp_path / "used"
    used.mkdir()
    (used / "old.txt").write_text("x")
    with pytest.raises(BuildError, match="not an empty folder"):
        build_kit(KitSpec(PREBUILT_BUNDLE, used))
    broken = tmp_path / "bundle"
    shutil.copytree(PREBUILT_BUNDLE, broken)
    with (broken / "image_int8w.bin").open("r+b") as fh:
        fh.write(b"\0\0\0\0")
    with pytest.raises(ChecksumError):  # before any download
        build_kit(KitSpec(broken, tmp_path / "kit"))


def _fake_kit(tmp_path: Path, arches: str) -> Path:
    kit = tmp_path / "kit"
    (kit / "wheels" / HOST_ARCH).mkdir(parents=True)
    shutil.copyfile(BOX_SCRIPT, kit / "install.sh")
    env = f'KIT_PYTHON={HOST_PYTHON}\nKIT_EXTRAS="openvino"\nKIT_ARCHES="{arches}"\n'
    (kit / "kit.env").write_text(env)
    return kit


def test_install_refuses_another_arch_and_a_damaged_wheel(tmp_path: Path) -> None:
    kit = _fake_kit(tmp_path, "other")
    shutil.rmtree(kit / "wheels" / HOST_ARCH)
    proc = _box(["sh", str(kit / "install.sh"), "--prefix", str(tmp_path / "opt")])
    assert proc.returncode == 1 and f"not {HOST_ARCH}" in proc.stderr
    kit = _fake_kit(tmp_path / "2", HOST_ARCH)
    (kit / "wheels" / HOST_ARCH / "a-1-py3-none-any.whl").write_bytes(b"damaged")
    (kit / "wheels" / HOST_ARCH / "SHA256SUMS").write_text("0" * 64 + "  a-1-py3-none-any.whl\n")
    proc = _box(["sh", str(kit / "install.sh"), "--prefix", str(tmp_path / "opt")])
    assert proc.returncode == 1 and "checksums differ" in proc.stderr
    assert not (tmp_path / "opt").exists()  # nothing unpacked
    proc = _box(["sh", str(kit / "install.sh"), "--frobnicate"])
    assert proc.returncode == 64 and "unknown option --frobnicate" in proc.stderr


@pytest.fixture(scope="module")
def kit(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo's runtime for this machine and the other arch, with the toy bundle."""
    out = tmp_path_factory.mktemp("kit") / "kit"
    other = [a for a in wheelhouse.ARCHES if a != HOST_ARCH]
    arches = [HOST_ARCH, *other]
    start = time.monotonic()
    build_kit(KitSpec(PREBUILT_BUNDLE, out, arches, extras=["openvino"], pure_cache=PURE_CACHE))
    print(f"kit built in {time.monotonic() - start:.0f} s")  # a measured figure (-s shows it)
    return out


@pytest.mark.slow
def test_kit_holds_wheels_for_each_arch_and_no_torch(kit: Path) -> None:
    info = json.loads((kit / "kit.json").read_text())
    assert set(info["wheels"]) == set(wheelhouse.ARCHES)
    for arch, wheels in info["wheels"].items():
        names = {wheelhouse.wheel_name(Path(w["file"])) for w in wheels}
        assert {"openvino", "numpy", "faiss-cpu", "sdnotify", "setuptools"} <= names, arch
        assert wheelhouse.forbidden(names) == []
        sums = (kit / "wheels" / arch / "SHA256SUMS").read_text().splitlines()
        assert len(sums) == len(wheels) == len(list((kit / "wheels" / arch).glob("*.whl")))
    assert info["bundle"]["model"] == "toy-shapes"


@pytest.mark.slow
def test_box_installs_offline_and_searches(kit: Path, tmp_path: Path) -> None:
    opt, root = tmp_path / "opt", tmp_path / "root"
    start = time.monotonic()
    proc = _box([str(kit / "install.sh"), "--prefix", str(opt), "--root", str(root), "--no-enable"])
    took = time.monotonic() - start
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    size = sum(p.stat().st_size for p in (opt / ".venv").rglob("*") if p.is_file())
    print(f"offline install {took:.0f} s, venv {size / 1e6:.0f} MB, {_offline() or 'no netns'}")
    assert size <= VENV_LIMIT
    assert (root / "etc/systemd/system/edge-search.service").is_file()
    bundle = root / "var/lib/edge-search/bundle"
    kit_id = json.loads((kit / "kit.json").read_text())["bundle"]["id"]
    assert json.loads((bundle / "manifest.json").read_text())["bundle_id"] == kit_id
    argv = [str(opt / ".venv/bin/edge-app"), "--data-dir", str(tmp_path / "data")]
    proc = _box([*argv, "--bundle", str(bundle), "demo", "--no-serve"])
    assert proc.returncode == 0, proc.stderr[-3000:]
    red = proc.stdout.split('search "a red circle":')[1].splitlines()[1]
    assert red.endswith("_red_circle.jpg"), proc.stdout
    python = str(opt / ".venv/bin/python")
    torch = subprocess.run([python, "-c", "import torch"], capture_output=True, check=False)
    assert torch.returncode != 0  # the box's venv has no torch at all
