"""Mapped weights given back after the first run: a real file mapping, real madvise, and
the real OpenVINO runner (its outputs must not change, its .bin pages must leave RSS)."""

from __future__ import annotations

import mmap
from pathlib import Path

import numpy as np
import pytest

import engines
from engines.mapped_weights import drop_resident_pages, read_only_ranges


def _resident_kb(path: Path) -> int:
    """Resident kB of this process's mappings of ``path`` (/proc/self/smaps)."""
    target, kb, inside = str(path.resolve()), 0, False
    for line in Path("/proc/self/smaps").read_text().splitlines():
        head = line.split()
        if head and "-" in head[0] and len(head) >= 5 and not line.startswith(("Rss", "Size")):
            inside = len(head) > 5 and head[5] == target
        elif inside and line.startswith("Rss:"):
            kb += int(head[1])
    return kb


def test_the_pages_of_a_read_only_mapping_leave_rss_and_read_back_the_same(
    tmp_path: Path,
) -> None:
    data = np.random.default_rng(0).integers(0, 255, 8 << 20, dtype=np.uint8).tobytes()
    path = tmp_path / "weights.bin"
    path.write_bytes(data)
    with path.open("rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as view:
        assert view[:] == data  # every page read: resident
        assert _resident_kb(path) >= 8 << 10
        assert drop_resident_pages(path) >= len(data)
        assert _resident_kb(path) < 256
        assert view[:] == data  # faulted back in from the file, unchanged


def test_writable_and_other_mappings_are_left_alone(tmp_path: Path) -> None:
    maps = (
        "7f0000000000-7f0000100000 r--s 00000000 fe:00 1 /b/w.bin\n"
        "7f0000100000-7f0000200000 rw-p 00000000 fe:00 1 /b/w.bin\n"
        "7f0000200000-7f0000300000 r--p 00000000 fe:00 2 /b/other.bin\n"
        "7f0000300000-7f0000400000 r--p 00000000 00:00 0\n"
    )
    assert read_only_ranges(Path("/b/w.bin"), maps) == [(0x7F0000000000, 0x7F0000100000)]


def _image_weights_resident(bundle: Path, runs: int) -> tuple[list[int], np.ndarray]:
    """Resident kB of the image tower's .bin after each of ``runs`` runs, and the output."""
    enc = engines.open(bundle, prefer="openvino:int8w")
    try:
        weights = enc.image_runner._weights_file  # type: ignore[attr-defined]
        x = np.random.default_rng(1).standard_normal((2, 3, enc.image_size, enc.image_size))
        resident, out = [], np.empty(0)
        for _ in range(runs):
            out = enc.encode_pixels(x.astype(np.float32))
            resident.append(_resident_kb(weights))
        return resident, out
    finally:
        enc.close()


def test_openvino_runs_keep_fewer_weight_pages_resident_and_answer_the_same(
    precisions_bundle: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The packed copy is what runs. The tiny test model still reads its small constants
    (biases, norms) from the file on every run; the ViT-B/32 towers keep 3 of 150 MB
    resident (docs/benchmarks/daemon-100k)."""
    dropped, out = _image_weights_resident(precisions_bundle, 3)
    monkeypatch.setattr("engines.openvino_backend.drop_resident_pages", lambda _p: 0)
    kept, control = _image_weights_resident(precisions_bundle, 1)
    np.testing.assert_array_equal(out, control)
    assert dropped[0] <= 8  # right after the shape's first run: all given back
    assert dropped[1] == dropped[2] < kept[0]  # later runs read back only a few pages


pytestmark = pytest.mark.skipif(
    not Path("/proc/self/smaps").is_file(), reason="needs Linux /proc/self/smaps"
)
