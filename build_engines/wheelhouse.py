"""A wheelhouse for another machine: the appliance's dependencies as wheels for the box's
Python and CPU, fetched on a host with network so the box installs with `--no-index`.

`pip download --only-binary=:all: --platform ... --python-version ...` resolves for the
target, not for this host. Packages published as a source archive only (sdnotify) have no
wheel to download; when they are pure Python, one wheel built here fits every box, so it
is built (`pip wheel --no-deps`) and offered to the next `pip download` through
`--find-links`. A compiled package without a wheel for the target stops the build with
its name, since a wheel built on this host would not run there.

The appliance never needs torch: `forbidden` names any torch/CUDA package in a resolved
set, and the kit builder refuses such a set (tests resolve the extras with it too).
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from build_engines.errors import BuildError

ARCHES = ("x86_64", "aarch64")
OLDEST_GLIBC_MINOR = 17  # manylinux2014
#: Never on the box: the builder's torch stack and its CUDA libraries.
FORBIDDEN = re.compile(r"^(torch|torchvision|torchaudio|triton|nvidia-.*)$")
_MISSING = re.compile(r"No matching distribution found for (\S+)")
MAX_SOURCE_ONLY = 8  # pure-Python sdist-only packages built here before giving up


class WheelhouseError(BuildError):
    """The wheelhouse for a target could not be assembled; the message says which package."""


@dataclass(frozen=True)
class Target:
    """The box: CPU architecture, CPython version ("3.11") and glibc version ("2.35")."""

    arch: str
    python: str
    glibc: str = "2.35"

    def __post_init__(self) -> None:
        if self.arch not in ARCHES:
            raise WheelhouseError(f"architecture {self.arch!r}: choose from {', '.join(ARCHES)}")
        if not re.fullmatch(r"3\.\d+", self.python):
            raise WheelhouseError(f"Python {self.python!r}: expected MAJOR.MINOR, e.g. 3.11")
        if not re.fullmatch(r"2\.\d+", self.glibc) or self.glibc_minor < OLDEST_GLIBC_MINOR:
            raise WheelhouseError(f"glibc {self.glibc!r}: expected 2.N with N >= 17, e.g. 2.35")

    @property
    def glibc_minor(self) -> int:
        return int(self.glibc.split(".")[1])

    def platforms(self) -> list[str]:
        """Every manylinux tag the box accepts, newest first (pip does not expand them)."""
        newest = range(self.glibc_minor, OLDEST_GLIBC_MINOR - 1, -1)
        tags = [f"manylinux_2_{minor}_{self.arch}" for minor in newest]
        return [*tags, f"manylinux2014_{self.arch}"]

    def pip_args(self) -> list[str]:
        abi = "cp" + self.python.replace(".", "")
        platforms = [arg for tag in self.platforms() for arg in ("--platform", tag)]
        return [
            "--only-binary=:all:",
            *platforms,
            *("--python-version", self.python, "--implementation", "cp", "--abi", abi),
        ]


def requirements(pyproject: Path, extras: Sequence[str]) -> list[str]:
    """The project's own dependencies, those of `extras` and its build backend's."""
    data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    optional = data["project"].get("optional-dependencies", {})
    unknown = [e for e in extras if e not in optional]
    if unknown:
        raise WheelhouseError(f"extras {unknown}: {pyproject} defines {sorted(optional)}")
    reqs = list(data["project"]["dependencies"])
    for extra in extras:
        reqs += optional[extra]
    return [*reqs, *data["build-system"]["requires"]]


def forbidden(names: Iterable[str]) -> list[str]:
    """The torch/CUDA distributions among `names` (normalised), sorted."""
    return sorted({n for n in map(normalise, names) if FORBIDDEN.match(n)})


def normalise(name: str) -> str:
    """PEP 503 name: "Torch_Vision" -> "torch-vision"."""
    return re.sub(r"[-_.]+", "-", name).lower()


def wheel_name(path: Path) -> str:
    """Distribution name of a wheel file ("numpy-2.0-cp311-....whl" -> "numpy")."""
    return normalise(path.name.split("-")[0])


def download(reqs: Sequence[str], target: Target, dest: Path, pure: Path) -> list[Path]:
    """Fetch wheels of `reqs` and their dependencies for `target` into `dest`."""
    dest.mkdir(parents=True, exist_ok=True)
    pure.mkdir(parents=True, exist_ok=True)
    built: set[str] = set()
    for _ in range(MAX_SOURCE_ONLY + 1):
        proc = _pip(
            ["download", "-d", str(dest), "--find-links", str(pure), *target.pip_args(), *reqs]
        )
        if proc.returncode == 0:
            return sorted(dest.glob("*.whl"))
        missing = _MISSING.search(proc.stderr)
        if missing is None or missing.group(1) in built:
            raise WheelhouseError(f"pip download for {target} failed:\n{_tail(proc.stderr)}")
        build_pure_wheel(missing.group(1), pure, target)
        built.add(missing.group(1))
    raise WheelhouseError(f"more than {MAX_SOURCE_ONLY} packages without wheels for {target}")


def build_pure_wheel(requirement: str, pure: Path, target: Target) -> Path:
    """Build `requirement` from its source archive; only a pure-Python wheel fits the box."""
    with tempfile.TemporaryDirectory(dir=pure) as tmp:  # same filesystem: an atomic rename
        proc = _pip(["wheel", "--no-deps", "--no-binary=:all:", "-w", tmp, requirement])
        if proc.returncode != 0:
            raise WheelhouseError(f"building {requirement} failed:\n{_tail(proc.stderr)}")
        (wheel,) = Path(tmp).glob("*.whl")
        require_pure(wheel, requirement, target)
        return Path(wheel.replace(pure / wheel.name))


def require_pure(wheel: Path, requirement: str, target: Target) -> None:
    """A wheel built on this host fits `target` only when it is pure Python."""
    if not wheel.name.endswith("-none-any.whl"):
        raise WheelhouseError(
            f"{requirement} has no wheel for {target} and is not pure Python "
            f"({wheel.name}): build it on such a box (pip wheel) and add it to the kit"
        )


def _pip(args: list[str]) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "pip", *args, "--quiet", "--disable-pip-version-check"]
    return subprocess.run(argv, capture_output=True, text=True, check=False)


def _tail(text: str, lines: int = 15) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])
