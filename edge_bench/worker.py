"""Measure ONE backend/precision in a fresh process (`python -m edge_bench.cli _worker SPEC`).

Why a subprocess per backend: first-load time and peak memory are only meaningful in
a process that has loaded nothing else (torch's allocator and OpenVINO's plugin would
otherwise count against each other), and a backend that crashes takes only its own
row down. The parent writes a spec, this writes a result JSON and the embeddings of
the shared input pool (for parity, computed by the parent).
"""

from __future__ import annotations

import importlib
import json
import resource
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import psutil

from edge_bench.stats import throughput, time_calls
from edge_bench.towers import LoadedTowers, load_runner_towers, load_torch

RUNTIME_MODULES = {"torch": "torch", "onnxruntime": "onnxruntime", "openvino": "openvino"}


@dataclass
class WorkerSpec:
    """Everything a worker needs; serialised to JSON by the parent."""

    backend: str
    precision: str
    pixels: str  # .npy (N, 3, S, S) float32
    tokens: str  # .npy (N, C) int64
    out_json: str
    emb_prefix: str
    batches: list[int] = field(default_factory=lambda: [1, 8, 32])
    bundle: str = ""
    model: str = ""
    device: str = "cpu"
    mode: str = "sync"  # "sync" (LATENCY hint) | "async" (OpenVINO THROUGHPUT queue)
    min_seconds: float = 2.0
    max_iters: int = 200
    threads: int | None = None

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self), indent=1), encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> WorkerSpec:
        return cls(**json.loads(path.read_text(encoding="utf-8")))


def _rss_mb() -> float:
    return float(psutil.Process().memory_info().rss) / 2**20


def _peak_rss_mb() -> float:
    """ru_maxrss is KiB on Linux: the high-water mark, including transient buffers."""
    return float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) / 1024


def tile(pool: np.ndarray, n: int) -> np.ndarray:
    """`n` rows cycled from the pool: real inputs at any batch size."""
    idx = np.arange(n) % pool.shape[0]
    return np.ascontiguousarray(pool[idx])


def _load(spec: WorkerSpec) -> LoadedTowers:
    if spec.backend == "torch":
        return load_torch(spec.model, spec.device, spec.precision)
    return load_runner_towers(
        Path(spec.bundle), spec.backend, spec.precision, spec.device, spec.threads
    )


def _time_tower(fn: Any, pool: np.ndarray, batches: list[int], spec: WorkerSpec) -> dict[str, Any]:
    """Latency percentiles and items/s per batch size."""
    out: dict[str, Any] = {}
    for b in batches:
        x = tile(pool, b)

        def call(x: np.ndarray = x) -> object:
            return fn(x)

        stats = time_calls(call, min_seconds=spec.min_seconds, max_iters=spec.max_iters)
        out[str(b)] = {"latency": stats.to_dict(), "throughput": throughput(b, stats)}
    return out


def _embed_pool(fn: Any, pool: np.ndarray, chunk: int) -> np.ndarray:
    parts = [fn(np.ascontiguousarray(pool[i : i + chunk])) for i in range(0, len(pool), chunk)]
    return np.concatenate(parts, axis=0).astype(np.float32)


def _run_async(spec: WorkerSpec, pixels: np.ndarray, tokens: np.ndarray) -> dict[str, Any]:
    """OpenVINO THROUGHPUT: only throughput per batch (latency is queueing-dominated)."""
    from edge_bench.ov_async import measure_async

    result: dict[str, Any] = {"image": {}, "text": {}}
    bundle = Path(spec.bundle)
    for tower, pool in (("image", pixels), ("text", tokens)):
        for b in spec.batches:
            r = measure_async(
                bundle, tower, spec.precision, tile(pool, b), spec.min_seconds, spec.threads
            )
            result["describe"] = {f"{tower}.{k}": v for k, v in r.pop("config").items()}
            result[tower][str(b)] = r
    return result


def _run_sync(spec: WorkerSpec, pixels: np.ndarray, tokens: np.ndarray) -> dict[str, Any]:
    baseline = _rss_mb()
    t0 = time.perf_counter()
    towers = _load(spec)
    load_s = time.perf_counter() - t0
    loaded = _rss_mb()
    first = time.perf_counter()
    towers.image(tile(pixels, 1))
    first_infer_s = time.perf_counter() - first
    result = {
        "load_s": round(load_s, 3),
        "first_inference_s": round(first_infer_s, 3),
        "image": _time_tower(towers.image, pixels, spec.batches, spec),
        "text": _time_tower(towers.text, tokens, spec.batches, spec),
        "describe": towers.describe,
    }
    chunk = max(spec.batches)
    np.save(spec.emb_prefix + "_image.npy", _embed_pool(towers.image, pixels, chunk))
    np.save(spec.emb_prefix + "_text.npy", _embed_pool(towers.text, tokens, chunk))
    result.update(_gpu_memory(spec))
    result["rss_baseline_mb"] = round(baseline, 1)
    result["load_rss_delta_mb"] = round(loaded - baseline, 1)
    result["peak_rss_delta_mb"] = round(_peak_rss_mb() - baseline, 1)
    towers.close()
    return result


def _gpu_memory(spec: WorkerSpec) -> dict[str, float]:
    """Peak device memory for the PyTorch CUDA rows (host RSS says nothing about the GPU)."""
    if spec.backend != "torch" or not spec.device.startswith("cuda"):
        return {}
    import torch

    return {"gpu_peak_mem_mb": round(torch.cuda.max_memory_allocated() / 2**20, 1)}


def run_spec(spec: WorkerSpec) -> dict[str, Any]:
    """Measure and return the row (without backend/precision bookkeeping)."""
    module = RUNTIME_MODULES.get(spec.backend)
    if module:  # the runtime's own import cost is not the model's memory
        importlib.import_module(module)
    pixels = np.load(spec.pixels)
    tokens = np.load(spec.tokens)
    if spec.mode == "async":
        return _run_async(spec, pixels, tokens)
    return _run_sync(spec, pixels, tokens)


def run_spec_file(path: Path) -> None:
    """Entry used by the CLI's hidden `_worker` subcommand."""
    spec = WorkerSpec.load(path)
    result = run_spec(spec)
    Path(spec.out_json).write_text(json.dumps(result), encoding="utf-8")
