"""`edge-bench engines`: every backend/precision this machine can run, side by side.

Each runnable row is measured in a fresh subprocess (see `worker`), all rows on the
same preprocessed inputs, so throughput ratios and parity against PyTorch fp32 come
from one run on one machine state.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edge_bench.captions import load_caption_set
from edge_bench.inputs import InputSet, existing_inputs, prepare_inputs
from edge_bench.plan import Row, plan_rows, runtime_availability
from edge_bench.worker import WorkerSpec

Log = Callable[[str], None]


@dataclass
class EnginesConfig:
    out: Path
    bundle: Path | None = None
    model: str | None = None
    backends: tuple[str, ...] = ("torch", "onnxruntime", "openvino", "tensorrt")
    batches: tuple[int, ...] = (1, 8, 32)
    precisions: tuple[str, ...] = ("fp32", "fp16", "bf16", "int8")
    device: str = "cpu"
    samples: int = 32
    images_dir: Path | None = None
    captions_file: Path | None = None
    calib_dir: Path | None = None
    inputs_dir: Path | None = None
    min_seconds: float = 2.0
    max_iters: int = 200
    with_async: bool = True
    threads: int | None = None
    seed: int = 0
    worker_timeout_s: float = 1800.0
    extra: dict[str, Any] = field(default_factory=dict)


def ensure_bundle(cfg: EnginesConfig, log: Log) -> Path | None:
    """Use --bundle if it holds a manifest, else build one from --model (ONNX + OpenVINO)."""
    if cfg.bundle is not None and (cfg.bundle / "manifest.json").is_file():
        return cfg.bundle
    if cfg.model is None:
        if cfg.bundle is not None:
            raise FileNotFoundError(f"{cfg.bundle} has no manifest.json: pass --model to build one")
        return None
    if cfg.device != "cpu" or not {"onnxruntime", "openvino"} & set(cfg.backends):
        return None  # the PyTorch reference needs only --model (GPU hosts carry --inputs)
    from build_engines.api import build_bundle

    out = cfg.bundle or cfg.out / "bundle"
    targets = tuple(
        t for b, t in (("onnxruntime", "onnx"), ("openvino", "openvino")) if b in cfg.backends
    )
    precisions = tuple(p for p in ("fp32", "fp16", "int8") if p in cfg.precisions) or ("fp32",)
    calib = (
        cfg.calib_dir or cfg.images_dir or _calibration_folder(cfg.out / "calibration", cfg.seed)
    )
    log(f"engines: building {cfg.model} bundle into {out} ({targets}, {precisions})")
    # The builder's parity gate would refuse a poor precision outright; the benchmark's job
    # is to *measure and report* parity, so the gate is opened and the figure published.
    gate: dict[str, float] = {p: 1e-6 for p in precisions}
    built = build_bundle(
        cfg.model,
        out,
        targets=targets or ("onnx",),
        precisions=precisions,
        calib_dir=calib,
        min_parity=gate,
    )
    return Path(built)


def _calibration_folder(folder: Path, seed: int) -> Path:
    from build_engines.shapes import write_folder

    write_folder(folder, n=32, seed=seed + 99, size=(256, 256), fmt="jpg")
    return folder


def _inputs(cfg: EnginesConfig, bundle: Path | None) -> InputSet:
    if cfg.inputs_dir is not None:
        return existing_inputs(cfg.inputs_dir)
    if bundle is None:
        raise ValueError("no bundle and no --inputs: nothing to preprocess with")
    if cfg.images_dir is not None and cfg.captions_file is not None:
        items = load_caption_set(cfg.images_dir, cfg.captions_file, cfg.samples)
        return prepare_inputs(
            bundle,
            cfg.out / "inputs",
            cfg.samples,
            cfg.seed,
            captions=[it.captions[0] for it in items],
            image_paths=[it.path for it in items],
        )
    return prepare_inputs(bundle, cfg.out / "inputs", cfg.samples, cfg.seed, cfg.images_dir)


def _run_worker(
    row: Row, cfg: EnginesConfig, bundle: Path | None, inputs: InputSet
) -> dict[str, Any]:
    """One subprocess; a crash becomes a 'failed' row with the tail of its stderr."""
    work = cfg.out / "work"
    work.mkdir(parents=True, exist_ok=True)
    name = row.key.replace("/", "_")
    spec = WorkerSpec(
        backend=row.backend,
        precision=row.precision,
        pixels=str(inputs.pixels),
        tokens=str(inputs.tokens),
        out_json=str(work / f"{name}.json"),
        emb_prefix=str(work / name),
        batches=list(cfg.batches),
        bundle=str(bundle or ""),
        model=cfg.model or _model_spec(bundle),
        device=cfg.device,
        mode=row.mode,
        min_seconds=cfg.min_seconds,
        max_iters=cfg.max_iters,
        threads=cfg.threads,
    )
    spec_path = work / f"{name}.spec.json"
    spec.save(spec_path)
    cmd = [sys.executable, "-m", "edge_bench.cli", "_worker", str(spec_path)]
    try:
        proc = subprocess.run(
            cmd, capture_output=True, text=True, timeout=cfg.worker_timeout_s, check=False
        )
    except subprocess.TimeoutExpired:
        return {
            "status": "failed",
            "reason": f"worker timed out after {cfg.worker_timeout_s:.0f} s",
        }
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-6:]
        return {"status": "failed", "reason": " | ".join(tail) or f"exit code {proc.returncode}"}
    result: dict[str, Any] = json.loads(Path(spec.out_json).read_text(encoding="utf-8"))
    result["status"] = "ok"
    if row.mode == "sync":
        result["embeddings"] = spec.emb_prefix
    return result


def _model_spec(bundle: Path | None) -> str:
    """The builder spec that recreates the bundle's model (for the PyTorch reference)."""
    if bundle is None:
        return ""
    from engines.manifest import Manifest

    source = Manifest.load(bundle).model.source
    for prefix in ("builtin:", "hf:"):
        if source.startswith(prefix):
            return source[len(prefix) :]
    return source


def cosine_parity(ref: np.ndarray, got: np.ndarray) -> dict[str, float | int]:
    """Row-wise cosine (not assuming unit norm: a broken graph might drop the L2 step)."""
    num = np.sum(ref.astype(np.float64) * got, axis=1)
    den = np.linalg.norm(ref, axis=1) * np.linalg.norm(got, axis=1)
    cos = num / np.maximum(den, 1e-12)
    return {
        "min_cosine": round(float(cos.min()), 6),
        "mean_cosine": round(float(cos.mean()), 6),
        "samples": int(len(cos)),
    }


def _add_parity(rows: list[dict[str, Any]]) -> None:
    ref = next((r for r in rows if r["key"] == "torch/fp32" and r["status"] == "ok"), None)
    for r in rows:
        if r["status"] != "ok" or "embeddings" not in r:
            continue
        if ref is None:
            r["parity"] = None
            continue
        r["parity"] = {
            t: cosine_parity(
                np.load(f"{ref['embeddings']}_{t}.npy"), np.load(f"{r['embeddings']}_{t}.npy")
            )
            for t in ("image", "text")
        }


def _add_speedups(rows: list[dict[str, Any]]) -> None:
    """Throughput / PyTorch fp32 throughput at the same batch size and tower."""
    ref = next((r for r in rows if r["key"] == "torch/fp32" and r["status"] == "ok"), None)
    if ref is None:
        return
    for r in rows:
        if r["status"] != "ok":
            continue
        r["speedup_vs_torch_fp32"] = {
            t: {
                b: round(v["throughput"] / ref[t][b]["throughput"], 3)
                for b, v in r[t].items()
                if b in ref[t] and ref[t][b]["throughput"] > 0
            }
            for t in ("image", "text")
        }


def run_engines(cfg: EnginesConfig, log: Log = lambda _m: None) -> dict[str, Any]:
    """Plan, measure each row in its own process, then parity and ratios."""
    from edge_bench.towers import ov_cpu_supports_bf16

    cfg.out.mkdir(parents=True, exist_ok=True)
    avail = runtime_availability(cfg.device)
    bundle = ensure_bundle(cfg, log)
    inputs = _inputs(cfg, bundle)
    bf16 = avail.get("openvino") is None and ov_cpu_supports_bf16()
    plan = plan_rows(cfg.backends, cfg.precisions, bundle, cfg.device, cfg.with_async, avail, bf16)
    rows: list[dict[str, Any]] = []
    for row in plan:
        base = {
            "key": row.key,
            "backend": row.backend,
            "precision": row.precision,
            "mode": row.mode,
            "note": row.note,
        }
        if row.reason is not None:
            rows.append({**base, "status": "unavailable", "reason": row.reason})
            continue
        log(f"engines: measuring {row.key}")
        rows.append({**base, **_run_worker(row, cfg, bundle, inputs)})
        if rows[-1]["status"] != "ok":
            log(f"engines: {row.key} failed: {rows[-1]['reason']}")
    _add_parity(rows)
    _add_speedups(rows)
    return {
        "bundle": _bundle_info(bundle),
        "model": cfg.model or _model_spec(bundle),
        "inputs": {"source": inputs.source, "images": inputs.images, "captions": inputs.captions},
        "device": cfg.device,
        "batches": list(cfg.batches),
        "openvino_cpu_bf16_native": bf16,
        "availability": avail,
        "rows": rows,
    }


def _bundle_info(bundle: Path | None) -> dict[str, Any]:
    if bundle is None:
        return {}
    from engines.manifest import Manifest

    m = Manifest.load(bundle)
    return {
        "path": str(bundle),
        "bundle_id": m.bundle_id,
        "model_id": m.model.id,
        "embedding_dim": m.embedding_dim,
        "image_size": m.image.size,
    }
